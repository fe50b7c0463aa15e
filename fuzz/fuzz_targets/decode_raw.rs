//! Arbitrary bytes through every decoder; see `mqtt_sansio::fuzz::decode_raw`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_sansio::fuzz::decode_raw(data));
