#![no_main]
//! See `secagg::fuzzing::server_state_machine` for the input layout and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| secagg::fuzzing::server_state_machine(data));
