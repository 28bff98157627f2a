//! The event block extractor on arbitrary text: never a panic, blocks in
//! order with messages that say where, accepted blocks found again alone,
//! and the scanner's JSON grammar equal to serde_json's. The checks are
//! shared with the stable replay test: see
//! `emission/tests/support/fuzz_check.rs`.
#![no_main]

#[path = "../../emission/tests/support/fuzz_check.rs"]
mod fuzz_check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_check::check(data));
