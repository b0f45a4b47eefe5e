#![no_main]
//! See `secagg::fuzzing::quantize` for the input layout and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| secagg::fuzzing::quantize(data));
