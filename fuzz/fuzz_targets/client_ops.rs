//! A client driven by operations the input picks; see `mqtt_sansio::fuzz::client_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_sansio::fuzz::client_ops(data));
