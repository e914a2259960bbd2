//! cargo-fuzz target `error_body`; the harness body is [`harness::error_body`] in `fuzz/harness.rs`,
//! shared with the corpus replay test `tests/fuzz_corpus.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::error_body(data));
