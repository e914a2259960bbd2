//! Fuzz harness bodies, shared by the cargo-fuzz targets in `fuzz/fuzz_targets/` (via
//! `#[path = "../harness.rs"] mod harness;`) and by the corpus replay test
//! `tests/fuzz_corpus.rs` (via `#[path = "../fuzz/harness.rs"] mod harness;`), so the
//! code that fuzzes and the code that replays the corpus under `cargo test` is one copy.
//!
//! Every function takes the raw fuzz input and must not panic, hang or allocate without
//! bound, whatever the input; errors are fine. A few invariants of the code under test
//! are asserted on top of that.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use workspace_exporter::cloud::alibaba::sag::{ClientUsersPage, UserOnlineClients};
use workspace_exporter::cloud::http::{ApiError, decode, error_chain, parse_error_body};
use workspace_exporter::cloud::huawei::iam::Projects;
use workspace_exporter::cloud::huawei::workspace::{
    ConnectionsStatus, OnlineUsers, parse_time_count,
};
use workspace_exporter::cloud::huawei::workspace_app::SessionPage;
use workspace_exporter::collectors::SeriesBuilder;
use workspace_exporter::collectors::app_sessions::{KNOWN_STATES, SessionTally};
use workspace_exporter::config::{Config, RawConfig};

/// The `api` label passed to [`decode`].
const API: &str = "fuzz";

/// Renders a set of series the way the store does for `/metrics`, so label values that
/// came from upstream bodies go through the text encoder.
fn render(series: SeriesBuilder) {
    let families = series.finish();
    let bodies = workspace_exporter::encoding::Bodies::from_families(&families);
    let samples: usize = families.iter().map(|f| f.get_metric().len()).sum();
    let text = bodies.text.to_bytes();
    let lines = text.iter().filter(|b| **b == b'\n').count();
    let headers = text
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"#"))
        .count();
    assert_eq!(
        lines - headers,
        samples,
        "one line per sample, whatever the labels hold"
    );
}

/// Decodes `body` as `T`; on failure, also formats the error as the logs would.
fn decode_or_report<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    match decode::<T>(API, body) {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(
                matches!(e, ApiError::Decode { .. }),
                "decode failed with a non-decode error: {e:?}"
            );
            let _ = error_chain(&e);
            None
        }
    }
}

/// Target `decode_huawei`: the first byte picks the Huawei response type (its value
/// modulo 4, so the ASCII digits `0`–`3` used by the seed corpus select them in order),
/// the rest is the response body.
pub fn decode_huawei(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => connections_status(body),
        1 => online_users(body),
        2 => session_page(body),
        _ => iam_projects(body),
    }
}

/// ListInstancesStatus body, then the desktop_status conversion: groups by trimmed name
/// (`unknown` when blank), counts summed with saturation, one series per group.
pub fn connections_status(body: &[u8]) {
    let Some(status) = decode_or_report::<ConnectionsStatus>(body) else {
        return;
    };
    let mut groups: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for g in &status.statics {
        let name = match g.static_name.trim() {
            "" => "unknown".to_string(),
            n => n.to_string(),
        };
        let sums = groups.entry(name).or_default();
        for (sum, n) in
            sums.iter_mut()
                .zip([g.running_num, g.stop_num, g.in_use_num, g.unknown_num])
        {
            *sum = sum.saturating_add(n);
        }
    }
    let series = SeriesBuilder::new(&[("region", "fuzz"), ("project_id", "fuzz")]);
    let gauge = series.gauge_vec("fuzz_desktops", "fuzz", &["desktop_group", "status"]);
    for (group, sums) in &groups {
        for (label, n) in ["running", "stopped", "in_use", "unknown"].iter().zip(sums) {
            gauge
                .with_label_values(&[group.as_str(), label])
                .set(*n as f64);
        }
    }
    render(series);
}

/// ListHistoryOnlineInfoNew body, then `parse_time_count` on every entry (the collector
/// uses the last one).
pub fn online_users(body: &[u8]) {
    let Some(answer) = decode_or_report::<OnlineUsers>(body) else {
        return;
    };
    for entry in &answer.time_counts {
        check_time_count(entry);
    }
}

/// list-sessions page, then every item into [`SessionTally::add`] and the tally into
/// series, as the app_sessions collector does.
pub fn session_page(body: &[u8]) {
    let Some(page) = decode_or_report::<SessionPage>(body) else {
        return;
    };
    let mut tally = SessionTally::default();
    for item in &page.items {
        tally.add(item);
    }
    let mut total = 0u64;
    for (group, states) in &tally.groups {
        assert!(!group.is_empty(), "empty server_group label");
        assert_eq!(group.trim(), group, "server_group label not trimmed");
        for known in KNOWN_STATES {
            assert!(states.contains_key(known), "{group}: missing state {known}");
        }
        for (state, n) in states {
            assert!(!state.is_empty(), "{group}: empty session_state label");
            total += n;
        }
    }
    assert_eq!(
        total,
        page.items.len() as u64,
        "sessions lost or double-counted"
    );
    let series = SeriesBuilder::new(&[("region", "fuzz"), ("project_id", "fuzz")]);
    let gauge = series.gauge_vec(
        "fuzz_app_sessions",
        "fuzz",
        &["server_group", "session_state"],
    );
    tally.set(&gauge);
    render(series);
}

/// IAM `GET /v3/projects` body, then the "exactly one project with an ID" rule.
pub fn iam_projects(body: &[u8]) {
    let Some(answer) = decode_or_report::<Projects>(body) else {
        return;
    };
    if let [only] = answer.projects.as_slice() {
        let _ = (!only.id.is_empty()).then(|| only.id.clone());
        let _ = only.name.as_deref();
    }
}

/// Target `decode_sag`: the first byte picks the SAG response type (its value modulo 2:
/// `0` DescribeUserOnlineClients, `1` DescribeSmartAccessGatewayClientUsers), the rest
/// is the body.
pub fn decode_sag(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        sag_online_clients(body);
    } else {
        sag_client_users(body);
    }
}

/// DescribeUserOnlineClients body, then `.clients()` and the sag_online_clients
/// conversion: trimmed IP and Unix-seconds online time, earliest per IP, one series each.
pub fn sag_online_clients(body: &[u8]) {
    let Some(answer) = decode_or_report::<UserOnlineClients>(body) else {
        return;
    };
    let clients = answer.clients();
    let (by_ip, _unusable) = answer.online_since_by_ip();
    assert!(by_ip.len() <= clients.len());
    let series = SeriesBuilder::new(&[("region", "fuzz")]);
    let online = series.gauge_vec("fuzz_online", "fuzz", &["smartag_id", "user"]);
    online
        .with_label_values(&["sag-fuzz", "fuzz"])
        .set(clients.len() as f64);
    let since = series.gauge_vec("fuzz_since", "fuzz", &["smartag_id", "user", "client_ip"]);
    for (ip, t) in by_ip {
        since
            .with_label_values(&["sag-fuzz", "fuzz", ip])
            .set(t as f64);
    }
    render(series);
}

/// DescribeSmartAccessGatewayClientUsers page, then `.names()` as the account listing
/// uses them.
pub fn sag_client_users(body: &[u8]) {
    let Some(page) = decode_or_report::<ClientUsersPage>(body) else {
        return;
    };
    let mut users: Vec<String> = page.names().map(str::to_string).collect();
    let listed = page.users.as_ref().map_or(0, |u| u.user.len());
    assert_eq!(users.len(), listed, "names() skipped or invented accounts");
    let _ = users.len() as u64 >= page.total_count;
    users.sort();
    users.dedup();
}

/// Target `error_body`: `parse_error_body` on any bytes, and the resulting
/// [`ApiError::Status`] formatted as the logs would.
pub fn error_body(data: &[u8]) {
    let (code, message, request_id) = parse_error_body(data);
    let has_any = code.is_some() || message.is_some() || request_id.is_some();
    let e = ApiError::Status {
        api: API,
        status: 500,
        code,
        message,
        request_id,
    };
    let text = error_chain(&e);
    assert!(text.starts_with("fuzz: HTTP 500"), "{text}");
    if !has_any {
        assert_eq!(text, "fuzz: HTTP 500");
    }
}

/// Target `time_counts`: `parse_time_count` on any UTF-8 text.
pub fn time_counts(data: &[u8]) {
    if let Ok(entry) = std::str::from_utf8(data) {
        check_time_count(entry);
    }
}

/// `parse_time_count` on one entry, with its invariants: on success the time is the
/// trimmed text before the last ':' and the count is the trimmed text after it, which
/// is made of ASCII digits only (`u64::from_str` also accepts one leading `+`, and so
/// does the parser, so that is let through); on failure the error quotes at most 64
/// characters of the entry.
fn check_time_count(entry: &str) {
    match parse_time_count(entry) {
        Ok((time, count)) => {
            let (before, after) = entry
                .rsplit_once(':')
                .expect("Ok although the entry has no ':'");
            assert_eq!(
                time,
                before.trim(),
                "time is not the text before the last ':'"
            );
            let digits = after.trim();
            assert!(
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
                "{entry:?}: count {count} parsed from {digits:?}, which is not digits"
            );
            assert_eq!(digits.parse::<u64>(), Ok(count), "{entry:?}");
        }
        Err(e) => {
            assert!(
                e.entry.chars().count() <= 64,
                "error quotes more than 64 chars"
            );
            assert!(entry.starts_with(&e.entry), "error quotes something else");
            let _ = e.to_string();
        }
    }
}

/// Environment variable names that `config` takes from the input (see [`config`]).
const ENV_PREFIXES: [&str; 3] = ["WORKSPACE_EXPORTER__", "HUAWEICLOUD_SDK_", "ALIBABA_CLOUD_"];

/// Base directory of the fuzzed configuration file: it does not exist, so every
/// relative `*_file` path fails to read.
const BASE_DIR: &str = "/nonexistent-fuzz";

/// Target `config`: the input as UTF-8 text. Lines of the form `NAME=value` whose NAME
/// starts with `WORKSPACE_EXPORTER__`, `HUAWEICLOUD_SDK_` or `ALIBABA_CLOUD_` are taken
/// out as environment variables (the `WORKSPACE_EXPORTER__*` overrides, and the SDK
/// credential fallbacks); the remaining lines are the TOML file. Then
/// `RawConfig::parse` and `Config::from_raw` with a base directory that does not exist.
/// Absolute `*_file` paths are made relative first, so the fuzzer never reads (or
/// blocks on) a real file such as `/dev/zero` or `/dev/stdin`.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut toml = String::with_capacity(text.len());
    let mut env: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if ENV_PREFIXES.iter().any(|p| bare.starts_with(p))
            && let Some((name, value)) = bare.split_once('=')
        {
            env.push((name.to_string(), value.to_string()));
            continue;
        }
        toml.push_str(line);
    }
    let mut raw = match RawConfig::parse(&toml, &env) {
        Ok(raw) => raw,
        Err(e) => {
            // The key may be empty here: for an unknown top-level key `""` the serde path
            // is the empty string (reported, not asserted).
            let _ = e.to_string();
            return;
        }
    };
    for t in &mut raw.huaweicloud {
        for file in [
            &mut t.access_key_file,
            &mut t.secret_key_file,
            &mut t.security_token_file,
        ] {
            make_relative(file);
        }
    }
    for t in &mut raw.alibabacloud_sag {
        for file in [
            &mut t.access_key_id_file,
            &mut t.access_key_secret_file,
            &mut t.security_token_file,
        ] {
            make_relative(file);
        }
    }
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match Config::from_raw(raw, Path::new(BASE_DIR), &lookup) {
        Ok(c) => {
            let names: Vec<&str> = c.target_names().collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "duplicate target names accepted");
            assert!(!names.is_empty(), "a config without targets was accepted");
            assert!(c.server.telemetry_path.starts_with('/'));
            for t in &c.alibabacloud_sag {
                assert!(!t.instances.is_empty(), "{}: no instances", t.name);
                assert!((1..=64).contains(&t.concurrency));
            }
            for t in &c.huaweicloud {
                assert!((1..=64).contains(&t.concurrency));
            }
            let _ = format!("{c:?}");
        }
        Err(e) => {
            assert!(!e.key.is_empty(), "ConfigError without a key: {e:?}");
            let _ = e.to_string();
        }
    }
}

/// Replaces an absolute path by a relative one (resolved under [`BASE_DIR`]).
fn make_relative(file: &mut Option<PathBuf>) {
    if let Some(path) = file
        && !path.is_relative()
    {
        *path = PathBuf::from("absolute-path-in-fuzz-input");
    }
}
