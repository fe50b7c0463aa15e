//! A server connection driven by operations the input picks; see
//! `mqtt_sansio::fuzz::server_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mqtt_sansio::fuzz::server_ops(data));
