//! cargo-fuzz target `decode_huawei`; the harness body is [`harness::decode_huawei`] in `fuzz/harness.rs`,
//! shared with the corpus replay test `tests/fuzz_corpus.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::decode_huawei(data));
