//! The event JSON parser on arbitrary bodies: see `skillhost_tests::fuzz::event_json`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| skillhost_tests::fuzz::event_json(data));
