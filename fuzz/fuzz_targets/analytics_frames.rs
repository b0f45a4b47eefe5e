#![no_main]
//! See `secagg::fuzzing::analytics_frames` for the input layout and the properties checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| secagg::fuzzing::analytics_frames(data));
