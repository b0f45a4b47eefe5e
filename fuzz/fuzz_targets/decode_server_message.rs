#![no_main]
//! See `secagg::fuzzing::decode_server_message` for the input layout and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| secagg::fuzzing::decode_server_message(data));
