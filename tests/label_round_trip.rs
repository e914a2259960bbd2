//! Property: any label value — any Unicode, quotes, backslashes, newlines — survives
//! the trip through the `/metrics` encoder. Each generated body is parsed back by this
//! suite's strict parser and by a real Prometheus text parser (the Python
//! `prometheus_client` one). CI requires the Python parser
//! (`WORKSPACE_EXPORTER_CI=1`); elsewhere that half is skipped with a
//! notice when the module is missing.

mod common;

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use workspace_exporter::collectors::SeriesBuilder;
use workspace_exporter::self_metrics::SelfMetrics;
use workspace_exporter::store::{PollOutcome, SlotKey, Store};

/// A long-lived parser process: reads `<byte length>\n<body>` requests and answers
/// each with one JSON line of `[label value, sample value]` pairs.
const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
stdin = sys.stdin.buffer
while True:
    header = stdin.readline()
    if not header:
        break
    body = stdin.read(int(header)).decode("utf-8")
    out = []
    try:
        for family in text_string_to_metric_families(body):
            if family.name == "test_group_desktops":
                for s in family.samples:
                    out.append([s.labels["desktop_group"], s.value])
        print(json.dumps(out), flush=True)
    except Exception as e:
        print(json.dumps({"error": str(e)}), flush=True)
"#;

/// The shared parser process.
struct Parser {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

static PYTHON: Mutex<Option<Parser>> = Mutex::new(None);

fn python_parser_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(check_python_parser)
}

fn check_python_parser() -> bool {
    let available = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available && std::env::var_os("WORKSPACE_EXPORTER_CI").is_some() {
        panic!("python3 with prometheus_client is required (pip install prometheus-client)");
    }
    available
}

/// The encoded body for one series per name, valued by its index.
fn encode(names: &[String]) -> String {
    let store = Store::new(Arc::new(SelfMetrics::new()));
    let key = SlotKey {
        target: "t".into(),
        collector: "c",
    };
    store.register(key.clone(), Duration::from_secs(60));
    let series = SeriesBuilder::new(&[("region", "r")]);
    let gauge = series.gauge_vec(
        "test_group_desktops",
        "Desktops per group.",
        &["desktop_group"],
    );
    for (i, name) in names.iter().enumerate() {
        gauge.with_label_values(&[name.as_str()]).set(i as f64);
    }
    store.record(
        &key,
        PollOutcome::Success(series.finish()),
        0,
        Duration::ZERO,
        UNIX_EPOCH,
    );
    String::from_utf8(store.body().to_vec()).expect("the body is UTF-8")
}

fn parse_with_python(body: &str) -> Vec<(String, f64)> {
    let mut guard = PYTHON.lock().unwrap_or_else(|e| e.into_inner());
    let parser = guard.get_or_insert_with(|| {
        let mut child = Command::new("python3")
            .args(["-c", PARSER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        Parser { child, stdout }
    });
    let stdin = parser.child.stdin.as_mut().unwrap();
    writeln!(stdin, "{}", body.len()).unwrap();
    stdin.write_all(body.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    parser.stdout.read_line(&mut line).unwrap();
    let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
    if let Some(error) = answer.get("error") {
        panic!("prometheus_client rejected the body ({error}):\n{body}");
    }
    serde_json::from_value(answer).unwrap()
}

/// Label values: arbitrary Unicode mixed with the characters the format escapes.
fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('{'),
                Just('}'),
                Just(','),
                Just('='),
                Just(' '),
                any::<char>()
            ],
            0..24
        )
        .prop_map(|c| c.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn label_values_round_trip_through_the_encoder(
        names in proptest::collection::btree_set(label_value(), 1..12)
    ) {
        let names: Vec<String> = names.into_iter().collect();
        let body = encode(&names);
        let scrape = common::Scrape::parse(&body);
        for (i, name) in names.iter().enumerate() {
            prop_assert_eq!(
                scrape.value("test_group_desktops", &[("desktop_group", name.as_str())]),
                Some(i as f64),
                "{:?} did not round-trip", name
            );
        }
        if python_parser_available() {
            let mut parsed = parse_with_python(&body);
            parsed.sort_by(|a, b| a.1.total_cmp(&b.1));
            let expected: Vec<(String, f64)> = names.iter().cloned().zip((0..).map(f64::from)).collect();
            prop_assert_eq!(parsed, expected);
        } else {
            eprintln!("python3 prometheus_client not installed: checked with the built-in parser only");
        }
    }
}
