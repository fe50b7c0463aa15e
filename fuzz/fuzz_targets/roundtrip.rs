//! Valid packets of every type built from the input must survive encode and decode;
//! see `mqtt_sansio::fuzz::roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_sansio::fuzz::roundtrip(data));
