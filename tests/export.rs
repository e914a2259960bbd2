//! `workspace-exporter export-connections` as an operator runs it, against the
//! simulator: a byte-identical download, and failures that leave nothing behind.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use workspace_exporter::simulator::huawei::{EXPORT_CONTENT_TYPE, export_file};
use workspace_exporter::simulator::scenario::DEMO_PROJECT_ID;
use workspace_exporter::simulator::{Fault, Route, Scenario, Simulator};

const BIN: &str = env!("CARGO_BIN_EXE_workspace-exporter");
const SIZE: usize = 5 * 1024 * 1024 + 3;

async fn sim() -> Simulator {
    let mut s = Scenario::empty();
    s.export_file_size = SIZE;
    common::start_sim(s).await
}

/// Writes a configuration for `sim` into `dir` and runs the command with `args`.
async fn run(sim: &Simulator, dir: &Path, args: &[&str]) -> Output {
    let config = common::target_toml(
        &sim.url(),
        "prod",
        &format!("project_id = \"{DEMO_PROJECT_ID}\""),
    );
    let config_path = dir.join("config.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg("export-connections")
        .args(args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_a_multi_megabyte_file_byte_for_byte() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.xlsx");
    let result = run(
        &sim,
        dir.path(),
        &[
            "--start",
            "2026-11-01T00:00Z",
            "--end",
            "2026-11-22T00:00Z",
            "--user-name",
            "alice smith@corp.example",
            "--language",
            "zh_CN",
            "--output",
            out.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        stdout.contains(&format!("wrote {SIZE} bytes ({EXPORT_CONTENT_TYPE})")),
        "{stdout}"
    );
    let expected = export_file(
        &query(&[
            ("start_time", "2026-11-01T00:00Z"),
            ("end_time", "2026-11-22T00:00Z"),
            ("user_name", "alice smith@corp.example"),
            ("language", "zh_CN"),
        ]),
        SIZE,
    );
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got.len(), SIZE);
    assert!(
        got == expected.as_ref(),
        "downloaded bytes differ from the served file"
    );
    assert_eq!(entries(dir.path()), vec!["config.toml", "records.xlsx"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_standard_output_with_dash() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let result = run(&sim, dir.path(), &["--output", "-"]).await;
    assert!(result.status.success());
    assert!(result.stdout == export_file(&[], SIZE).as_ref());
    assert!(String::from_utf8_lossy(&result.stderr).contains(&format!("wrote {SIZE} bytes")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_500_leaves_the_existing_file_alone() {
    let sim = sim().await;
    sim.set_fault(Route::ExportConnections, Some(Fault::Status(500)));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.xlsx");
    std::fs::write(&out, b"last month's records").unwrap();
    let result = run(&sim, dir.path(), &["--output", out.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(
        stderr.contains("HTTP 500")
            && stderr.contains("WKS.0500")
            && stderr.contains("injected fault"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"last month's records");
    assert_eq!(entries(dir.path()), vec!["config.toml", "records.xlsx"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_body_leaves_no_file() {
    let sim = sim().await;
    sim.set_fault(
        Route::ExportConnections,
        Some(Fault::CutBodyAfter(1024 * 1024)),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.xlsx");
    let result = run(&sim, dir.path(), &["--output", out.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{stderr}");
    assert!(stderr.contains("download interrupted"), "{stderr}");
    assert_eq!(entries(dir.path()), vec!["config.toml"]);
    assert_eq!(sim.requests(Route::ExportConnections), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_are_checked_before_any_request() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["--start", "2026-11-01T00:00Z", "--output", "x"],
            "both --start and --end",
        ),
        (
            vec![
                "--start",
                "yesterday",
                "--end",
                "2026-11-22T00:00Z",
                "--output",
                "x",
            ],
            "--start \"yesterday\"",
        ),
        (
            vec![
                "--start",
                "2026-11-22T00:00Z",
                "--end",
                "2026-11-01T00:00Z",
                "--output",
                "x",
            ],
            "is after",
        ),
        (
            vec!["--target", "nope", "--output", "x"],
            "not a [[huaweicloud]] target",
        ),
    ] {
        let result = run(&sim, dir.path(), &args).await;
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert_eq!(sim.requests(Route::ExportConnections), 0);
    assert_eq!(entries(dir.path()), vec!["config.toml"]);
}

/// On a terminal (a pseudo-terminal made by `script`), a download to a file shows a
/// progress bar on standard error with the bytes, the rate and the percent of the
/// announced size; through pipes (every other test) nothing but the summary appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_shows_a_progress_bar_and_a_pipe_does_not() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.xlsx");
    let args = [
        "--start",
        "2026-11-01T00:00Z",
        "--end",
        "2026-11-22T00:00Z",
        "--output",
        out.to_str().unwrap(),
    ];
    let piped = run(&sim, dir.path(), &args).await;
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("B/s") && !stderr.contains('%'), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&piped.stdout).lines().count(),
        1,
        "only the summary line"
    );

    if !common::tool_available("script", &["-qec", "true", "/dev/null"]) {
        return;
    }
    let config_path = dir.path().join("config.toml");
    let command = format!(
        "{BIN} --config.file={} export-connections {}",
        config_path.display(),
        args.join(" ")
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"]);
    let terminal = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let screen = String::from_utf8_lossy(&terminal.stdout);
    assert!(terminal.status.success(), "{screen}");
    assert!(screen.contains(&format!("wrote {SIZE} bytes")), "{screen}");
    assert!(
        screen.contains("MiB"),
        "no byte count on the terminal: {screen}"
    );
    assert!(screen.contains('%'), "no percent on the terminal: {screen}");
    assert_eq!(std::fs::read(&out).unwrap().len(), SIZE);
}
