//! The flow loader on arbitrary flow files: see `skillhost_tests::fuzz::flow_loader`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| skillhost_tests::fuzz::flow_loader(data));
