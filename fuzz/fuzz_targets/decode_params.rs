#![no_main]
//! See `secagg::fuzzing::decode_params` for the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| secagg::fuzzing::decode_params(data));
