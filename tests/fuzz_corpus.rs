//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same harness
//! bodies the cargo-fuzz targets run (`fuzz/harness.rs`), so every input the fuzzer kept
//! stays panic-free under a plain `cargo test`. See `fuzz/README.md`.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// Runs `harness` on every file of `fuzz/corpus/<target>/`; fails when the directory is
/// missing or empty, so the test cannot pass on nothing.
fn replay(target: &str, harness: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable corpus directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus directory {} is empty",
        dir.display()
    );
    for file in &files {
        let data =
            std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        // Name the input if the harness panics on it.
        let outcome = std::panic::catch_unwind(|| harness(&data));
        if let Err(panic) = outcome {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!("{target}: corpus input {} panicked: {what}", file.display());
        }
    }
}

#[test]
fn decode_huawei_corpus() {
    replay("decode_huawei", harness::decode_huawei);
}

#[test]
fn decode_sag_corpus() {
    replay("decode_sag", harness::decode_sag);
}

#[test]
fn error_body_corpus() {
    replay("error_body", harness::error_body);
}

#[test]
fn time_counts_corpus() {
    replay("time_counts", harness::time_counts);
}

#[test]
fn config_corpus() {
    replay("config", harness::config);
}
