//! Small validators every part of the configuration uses; each error names the key.

use std::collections::BTreeSet;
use std::time::Duration;

use url::Url;

use super::{ConfigError, HumanDuration, regions};

/// Reads a listen address: `host:port`, `[v6]:port`, or `:port` (the node_exporter
/// form) for every IPv4 interface.
pub fn parse_listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    let text = text.trim();
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    full.parse().map_err(|_| {
        format!(
            "{text:?} is not an address and port: write \":9817\" (every IPv4 interface), \"0.0.0.0:9817\", \"127.0.0.1:9817\" or \"[::]:9817\" (IPv6 too)"
        )
    })
}

/// Checks a telemetry path: absolute, URL-safe, and not one of the fixed endpoints.
pub fn validate_telemetry_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} must start with '/'"));
    }
    if ["/", "/status", "/-/healthy", "/-/ready", "/-/reload"].contains(&path) {
        return Err(format!("{path:?} is already used by the exporter"));
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
    {
        return Err(format!(
            "{path:?} must be a plain path (letters, digits and / - _ . ~)"
        ));
    }
    Ok(())
}

/// A count that must not be zero, or `default` when absent.
pub(super) fn nonzero<T: Copy + PartialEq + From<u8>>(
    key: impl Into<String>,
    value: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        Some(n) if n == T::from(0) => Err(ConfigError::new(key, "must be greater than zero")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

pub(super) fn positive(
    key: &str,
    value: Option<HumanDuration>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        Some(HumanDuration(d)) if d.is_zero() => {
            Err(ConfigError::new(key, "must be greater than zero"))
        }
        Some(HumanDuration(d)) if d > MAX_DURATION => Err(ConfigError::new(
            key,
            format!("{} is longer than a year", humantime::format_duration(d)),
        )),
        Some(HumanDuration(d)) => Ok(d),
        None => Ok(default),
    }
}

/// Longest duration any setting accepts; keeps derived values (3 × interval) finite.
pub(super) const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

pub(super) fn region_of(
    key: &str,
    region: Option<String>,
    example: &str,
) -> Result<String, ConfigError> {
    let region = region.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
        ConfigError::new(key, format!("missing: set the region, e.g. \"{example}\""))
    })?;
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ConfigError::new(
            key,
            format!("{region:?} is not a region name (lower-case letters, digits and '-')"),
        ));
    }
    Ok(region)
}

pub(super) fn target_name(
    key: &str,
    name: Option<String>,
    region: &str,
) -> Result<String, ConfigError> {
    match name {
        Some(n) if n.trim().is_empty() => Err(ConfigError::new(key, "must not be empty")),
        Some(n) => Ok(n),
        None => Ok(region.to_string()),
    }
}

/// A target's `collectors` list: absent is empty (the defaults), given must be
/// non-empty and without duplicates. Names are checked against the collectors'
/// registry by [`crate::collectors::check`].
pub(super) fn collector_list(
    key: &str,
    list: Option<Vec<String>>,
) -> Result<Vec<String>, ConfigError> {
    match list {
        None => Ok(Vec::new()),
        Some(list) if list.is_empty() => Err(ConfigError::new(
            key,
            "is empty: remove it to run the default collectors",
        )),
        Some(list) => {
            let mut seen = BTreeSet::new();
            for c in &list {
                if !seen.insert(c.as_str()) {
                    return Err(ConfigError::new(key, format!("{c} is listed twice")));
                }
            }
            Ok(list)
        }
    }
}

/// An endpoint key: its value, or else `default`, the endpoint the target's region
/// implies (`https://{service}.{region}.{domain}`). A default endpoint of a cloud that
/// [`regions`] knows needs a region of its table: otherwise the error names the
/// target's `region` key (the sibling of `key`), the value, and the nearest known
/// region. An explicit value skips that check, for a region the tables lack.
pub(super) fn endpoint(
    key: &str,
    value: Option<String>,
    default: String,
) -> Result<Url, ConfigError> {
    if value.is_none() {
        known_region(key, &default)?;
    }
    let text = value.unwrap_or(default);
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::new(key, format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            key,
            format!("{text:?}: the scheme must be http or https"),
        ));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::new(key, format!("{text:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not quoted: user info may hold a password.
        return Err(ConfigError::new(
            key,
            "must not carry user info (user:password@); the value is not shown",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(
            key,
            format!("{text:?} must not carry a query or fragment"),
        ));
    }
    Ok(url)
}

/// Checks the region in a default endpoint against [`regions`]; see [`endpoint`].
fn known_region(endpoint_key: &str, default: &str) -> Result<(), ConfigError> {
    let Some(host) = Url::parse(default)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
    else {
        return Ok(());
    };
    let Some((table, region)) = regions::of_default_host(&host) else {
        return Ok(());
    };
    if table.knows(region) {
        return Ok(());
    }
    let region_key = match endpoint_key.rsplit_once('.') {
        Some((target, _)) => format!("{target}.region"),
        None => "region".to_string(),
    };
    let guess = match table.nearest(region) {
        Some(near) => format!("did you mean \"{near}\"?"),
        None => format!("the known ones are {}.", table.regions.join(", ")),
    };
    Err(ConfigError::new(
        region_key,
        format!(
            "\"{region}\" is not a region of {}: {guess} For a region not listed, set {} explicitly",
            table.service, table.endpoint_keys
        ),
    ))
}

/// A target's `concurrency`: 1–64, default [`super::DEFAULT_CONCURRENCY`].
pub(super) fn concurrency(key: &str, value: Option<usize>) -> Result<usize, ConfigError> {
    match value {
        None => Ok(super::DEFAULT_CONCURRENCY),
        Some(n @ 1..=64) => Ok(n),
        Some(n) => Err(ConfigError::new(
            key.to_string(),
            format!("{n} is out of range 1..=64"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{endpoint, parse_listen_address};

    /// A default endpoint in an unknown region is refused naming the target's region
    /// key, the value and the nearest known region; an explicit endpoint is not checked.
    #[test]
    fn a_default_endpoint_needs_a_known_region() {
        let e = endpoint(
            "huaweicloud[2].workspace_endpoint",
            None,
            "https://workspace.cn-nort-4.myhuaweicloud.com".into(),
        )
        .unwrap_err();
        assert_eq!(e.key, "huaweicloud[2].region");
        assert!(e.problem.contains("\"cn-nort-4\""), "{e}");
        assert!(e.problem.contains("did you mean \"cn-north-4\"?"), "{e}");
        assert!(e.problem.contains("iam_endpoint"), "{e}");

        let e = endpoint(
            "alibabacloud_sag[0].endpoint",
            None,
            "https://smartag.mars-1.aliyuncs.com".into(),
        )
        .unwrap_err();
        assert_eq!(e.key, "alibabacloud_sag[0].region");
        assert!(e.problem.contains("\"mars-1\""), "{e}");
        assert!(
            e.problem.contains("cn-shanghai, cn-shanghai-finance-1"),
            "{e}"
        );
        assert!(!e.problem.contains("did you mean"), "{e}");

        for (key, default) in [
            (
                "huaweicloud[0].iam_endpoint",
                "https://iam.cn-north-4.myhuaweicloud.com",
            ),
            (
                "alibabacloud_sag[0].endpoint",
                "https://smartag.cn-hongkong.aliyuncs.com",
            ),
        ] {
            assert!(endpoint(key, None, default.into()).is_ok(), "{default}");
        }
        let explicit = endpoint(
            "huaweicloud[0].workspace_endpoint",
            Some("https://workspace.cn-nort-4.example.net".into()),
            "https://workspace.cn-nort-4.myhuaweicloud.com".into(),
        );
        assert!(explicit.is_ok(), "{explicit:?}");
    }

    #[test]
    fn listen_addresses_in_every_usual_form() {
        assert_eq!(
            parse_listen_address(":9817").unwrap().to_string(),
            "0.0.0.0:9817"
        );
        assert_eq!(
            parse_listen_address("[::]:9817").unwrap().to_string(),
            "[::]:9817"
        );
        assert_eq!(
            parse_listen_address("127.0.0.1:9817").unwrap().to_string(),
            "127.0.0.1:9817"
        );
        let err = parse_listen_address("localhost").unwrap_err();
        assert!(err.contains("\":9817\""), "{err}");
        assert!(parse_listen_address(":").is_err());
        assert!(parse_listen_address(":99999").is_err());
    }
}
