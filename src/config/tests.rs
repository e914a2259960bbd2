//! Unit tests of configuration loading: defaults, every error naming its key, and
//! secrets never echoed.

use std::path::Path;
use std::time::Duration;

use super::env::env_key;
use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw = RawConfig::parse(text, &[])?;
    Config::from_raw(raw, Path::new("."), &no_env)
}

const MINIMAL: &str = r#"
    [[huaweicloud]]
    region = "cn-north-4"
    access_key = "AK"
    secret_key = "SK"
"#;

#[test]
fn defaults_fill_in() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.server.listen_address, "0.0.0.0:9817".parse().unwrap());
    assert_eq!(c.poll.interval, Duration::from_secs(60));
    let t = &c.huaweicloud[0];
    assert_eq!(t.name, "cn-north-4");
    assert_eq!(
        t.app_endpoint.as_str(),
        "https://appstream.cn-north-4.myhuaweicloud.com/"
    );
    // Not given: the registry's default-enabled collectors run (see
    // collectors::tests::a_target_without_a_list_runs_the_default_collectors).
    assert!(t.collectors.is_empty());
    assert_eq!(t.session_lookback, Duration::from_secs(86400));
}

#[test]
fn app_endpoint_falls_back_to_workspace_outside_appstream_regions() {
    let c = parse(&MINIMAL.replace("cn-north-4", "ap-southeast-1")).unwrap();
    assert_eq!(
        c.huaweicloud[0].app_endpoint.as_str(),
        "https://workspace.ap-southeast-1.myhuaweicloud.com/"
    );
}

#[test]
fn unknown_key_is_named() {
    let err = parse(&format!("{MINIMAL}\nsecret_key_fle = \"x\"")).unwrap_err();
    assert_eq!(err.key, "huaweicloud[0].secret_key_fle");
    assert!(err.problem.contains("secret_key_fle"), "{err}");
}

#[test]
fn absurd_durations_are_refused_not_overflowed() {
    let err = parse(&format!(
        "[poll]\ninterval = \"7000000000000000000s\"\n{MINIMAL}"
    ))
    .unwrap_err();
    assert_eq!(err.key, "poll.interval");
    let err = parse(&format!("{MINIMAL}interval = \"7000000000000000000s\"\n")).unwrap_err();
    assert_eq!(err.key, "huaweicloud[0].interval");
}

#[test]
fn zero_counts_are_named() {
    for (section, key, named) in [
        ("[server]", "max_requests = 0", "server.max_requests"),
        (
            "[poll]",
            "rate_limit_per_minute = 0",
            "poll.rate_limit_per_minute",
        ),
        ("[poll]", "max_body_bytes = 0", "poll.max_body_bytes"),
    ] {
        let err = parse(&format!("{section}\n{key}\n{MINIMAL}")).unwrap_err();
        assert_eq!(err.key, named);
        assert_eq!(err.problem, "must be greater than zero");
    }
    let err = parse(&format!("{MINIMAL}rate_limit_per_minute = 0\n")).unwrap_err();
    assert_eq!(err.key, "huaweicloud[0].rate_limit_per_minute");
}

#[test]
fn bad_duration_is_named() {
    let err = parse(&format!("[poll]\ninterval = \"5 parsecs\"\n{MINIMAL}")).unwrap_err();
    assert_eq!(err.key, "poll.interval");
    assert!(err.problem.contains("invalid duration"), "{err}");
}

#[test]
fn env_override_reaches_list_items() {
    let env = vec![(
        "WORKSPACE_EXPORTER__HUAWEICLOUD__0__NAME".to_string(),
        "from-env".to_string(),
    )];
    let raw = RawConfig::parse(MINIMAL, &env).unwrap();
    let c = Config::from_raw(raw, Path::new("."), &no_env).unwrap();
    assert_eq!(c.huaweicloud[0].name, "from-env");
}

#[test]
fn env_key_mapping() {
    assert_eq!(env_key("POLL__INTERVAL").as_deref(), Some("poll.interval"));
    assert_eq!(
        env_key("HUAWEICLOUD__1__SECRET_KEY_FILE").as_deref(),
        Some("huaweicloud[1].secret_key_file")
    );
    assert_eq!(env_key("0__X"), None);
    assert_eq!(env_key("HUAWEICLOUD__1000000000__REGION"), None);
    assert_eq!(env_key("A____B"), None);
}

#[test]
fn sdk_env_fallback_is_used_only_when_nothing_is_set() {
    let text = "[[huaweicloud]]\nregion = \"cn-north-4\"\n";
    let env = |name: &str| match name {
        "HUAWEICLOUD_SDK_AK" => Some("ENVAK".to_string()),
        "HUAWEICLOUD_SDK_SK" => Some("ENVSK\n".to_string()),
        _ => None,
    };
    let c = Config::from_raw(RawConfig::parse(text, &[]).unwrap(), Path::new("."), &env).unwrap();
    assert_eq!(
        c.huaweicloud[0]
            .credentials
            .written_keys()
            .unwrap()
            .secret_key
            .expose(),
        "ENVSK"
    );
    let err = parse(text).unwrap_err();
    assert_eq!(err.key, "huaweicloud[0].access_key");
}

#[test]
fn missing_secret_file_is_named_without_content() {
    let text = "[[huaweicloud]]\nregion = \"cn-north-4\"\naccess_key = \"AK\"\nsecret_key_file = \"/nonexistent/hw_sk\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.key, "huaweicloud[0].secret_key_file");
    assert!(err.problem.contains("/nonexistent/hw_sk"), "{err}");
}

#[test]
fn duplicate_names_and_empty_lists_are_rejected() {
    let err = parse(&format!("{MINIMAL}{MINIMAL}")).unwrap_err();
    assert_eq!(err.key, "huaweicloud[1].name");
    let err = parse("[poll]\ninterval = \"10s\"\n").unwrap_err();
    assert_eq!(err.key, "huaweicloud");
}

#[test]
fn bad_url_and_wrong_type_are_named() {
    let err = parse(&format!("{MINIMAL}workspace_endpoint = \"ftp://x\"\n")).unwrap_err();
    assert_eq!(err.key, "huaweicloud[0].workspace_endpoint");
    let err = parse(&format!("[poll]\nmax_body_bytes = \"lots\"\n{MINIMAL}")).unwrap_err();
    assert_eq!(err.key, "poll.max_body_bytes");
    // An unknown collector name: collectors::tests::an_unknown_collector_is_named.
}

/// A secret written without quotes, or with an unterminated quote, must not be
/// echoed by the parse error, which still names the key, the line and the column.
#[test]
fn syntax_errors_never_quote_a_secret() {
    let value = "demo-secret-key-not-a-real-one";
    for line in [
        format!("secret_key = {value}"),
        format!("secret_key = \"{value}"),
        format!("secret_key = '{value}"),
    ] {
        let text =
            format!("[[huaweicloud]]\nregion = \"cn-north-4\"\naccess_key = \"AK\"\n{line}\n");
        let err = parse(&text).unwrap_err();
        let shown = err.to_string();
        assert!(!shown.contains("demo-secret"), "{line}: {shown}");
        assert_eq!(err.key, "huaweicloud[0].secret_key", "{line}: {shown}");
        assert!(
            err.problem.starts_with("line 4, column "),
            "{line}: {shown}"
        );
        assert!(err.problem.contains("holds a secret"), "{line}: {shown}");
    }
    // A second target, and a nested table: the key path follows the headers.
    let text = format!(
        "{MINIMAL}\n[[alibabacloud_sag]]\nregion = \"cn-shanghai\"\n[[alibabacloud_sag.instances]]\nsmartag_id = \"a\"\n[[alibabacloud_sag]]\naccess_key_secret = {value}\n"
    );
    let err = parse(&text).unwrap_err();
    assert_eq!(err.key, "alibabacloud_sag[1].access_key_secret", "{err}");
    assert!(!err.to_string().contains(value), "{err}");
}

/// Any syntax error reports its position and the parser's reason, never the line.
#[test]
fn syntax_errors_never_quote_the_source_line() {
    let err = parse(&format!("[poll]\ninterval = 60 seconds\n{MINIMAL}")).unwrap_err();
    assert_eq!(err.key, "poll.interval", "{err}");
    assert!(err.problem.starts_with("line 2, column "), "{err}");
    assert!(!err.problem.contains("60 seconds"), "{err}");
    assert!(!err.problem.contains("holds a secret"), "{err}");
    let err = parse("[[huaweicloud\nregion = \"x\"\n").unwrap_err();
    assert_eq!(err.key, "config.file", "{err}");
    assert!(err.problem.starts_with("line 1, column "), "{err}");
}

/// A secret must be a string: a number in its place is refused without showing it.
#[test]
fn a_secret_must_be_a_string() {
    for (field, value) in [
        ("secret_key", "123456789012345"),
        ("access_key", "987654321098765"),
        ("security_token", "true"),
        ("secret_key", "1.5e300"),
    ] {
        let text = MINIMAL.replace(
            &format!(
                "{field} = \"{}\"",
                if field == "secret_key" { "SK" } else { "AK" }
            ),
            "",
        );
        let text = format!("{text}{field} = {value}\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(err.key, format!("huaweicloud[0].{field}"), "{err}");
        assert!(err.problem.contains("must be a string"), "{err}");
        assert!(!err.to_string().contains(value), "{err}");
    }
    let sag = "[[alibabacloud_sag]]\nregion = \"cn-shanghai\"\naccess_key_id = \"a\"\naccess_key_secret = 42424242\n[[alibabacloud_sag.instances]]\nsmartag_id = \"s\"\n";
    let err = parse(sag).unwrap_err();
    assert_eq!(err.key, "alibabacloud_sag[0].access_key_secret", "{err}");
    assert!(!err.to_string().contains("42424242"), "{err}");
}

/// A value from an environment override is always a string, and stays accepted.
#[test]
fn a_secret_from_the_environment_is_a_string() {
    let env = vec![(
        "WORKSPACE_EXPORTER__HUAWEICLOUD__0__SECRET_KEY".to_string(),
        "1234567890".to_string(),
    )];
    let raw = RawConfig::parse(MINIMAL, &env).unwrap();
    let c = Config::from_raw(raw, Path::new("."), &no_env).unwrap();
    assert_eq!(
        c.huaweicloud[0]
            .credentials
            .written_keys()
            .unwrap()
            .secret_key
            .expose(),
        "1234567890"
    );
}

#[test]
fn debug_output_hides_credentials() {
    let c = parse(MINIMAL.replace("\"SK\"", "\"TOP-SECRET-SK\"").as_str()).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("TOP-SECRET-SK"));
}

/// A conflict caused by an environment variable names the variable.
#[test]
fn a_conflict_caused_by_the_environment_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let var = "WORKSPACE_EXPORTER__HUAWEICLOUD__0__ACCESS_KEY_FILE";
    let env = [(var.to_string(), "/run/secrets/ak".to_string())];
    let err = Config::load_with_env(&path, &env).unwrap_err();
    assert_eq!(err.key, "huaweicloud[0].access_key");
    assert!(err.problem.contains("not both"), "{err}");
    assert!(
        err.problem.contains(&format!(
            "huaweicloud[0].access_key_file is set by the environment variable {var}"
        )),
        "{err}"
    );
    // An error about a key the environment did not touch names no variable.
    let env = [(
        "WORKSPACE_EXPORTER__POLL__INTERVAL".to_string(),
        "0s".to_string(),
    )];
    let err = Config::load_with_env(&path, &env).unwrap_err();
    assert_eq!(err.key, "poll.interval");
    assert!(
        err.problem.contains("WORKSPACE_EXPORTER__POLL__INTERVAL"),
        "{err}"
    );
    let env = [(
        "WORKSPACE_EXPORTER__POLL__TIMEOUT".to_string(),
        "5s".to_string(),
    )];
    std::fs::write(&path, format!("[poll]\ninterval = \"0s\"\n{MINIMAL}")).unwrap();
    let err = Config::load_with_env(&path, &env).unwrap_err();
    assert!(!err.problem.contains("environment"), "{err}");
}
