#![no_main]
//! See `secagg::fuzzing::unpack` for the input layout and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| secagg::fuzzing::unpack(data));
