//! Reading the configuration: the TOML text and the `WORKSPACE_EXPORTER__*`
//! environment overrides, merged by the `config` crate into the [`RawConfig`] schema.
//! No error repeats configuration content.

use super::schema::RawConfig;
use super::secrets::names_secret;
use super::{ConfigError, ENV_PREFIX};

impl RawConfig {
    /// Parses TOML text and applies `WORKSPACE_EXPORTER__*` overrides from `env`.
    ///
    /// No error repeats configuration content: a syntax error gives the line, the
    /// column, the parser's reason and the key it concerns, never the source line, and
    /// an error about a key that names a secret never shows its value.
    pub fn parse(toml_text: &str, env: &[(String, String)]) -> Result<RawConfig, ConfigError> {
        // The `config` crate's TOML errors quote the offending source line; parse once
        // here to report syntax errors without it.
        if let Err(e) = toml::de::DeTable::parse(toml_text) {
            return Err(syntax_error(toml_text, &e));
        }
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(toml_text, config::FileFormat::Toml));
        let mut overrides = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = env_key(rest).ok_or_else(|| {
                ConfigError::new(name.clone(), "cannot be mapped to a configuration key")
            })?;
            builder = builder
                .set_override(&key, value.as_str())
                .map_err(|e| ConfigError::new(name.clone(), e.to_string()))?;
            overrides.push((key, name.clone()));
        }
        let merged = builder
            .build()
            .map_err(|e| ConfigError::new("config.file", e.to_string()))?;
        let raw: Result<RawConfig, ConfigError> =
            serde_path_to_error::deserialize(merged).map_err(|e| {
                let path = e.path().to_string();
                let key = if path == "." || path.is_empty() {
                    "config.file".to_string()
                } else {
                    path
                };
                let problem = strip_config_noise(&e.into_inner().to_string());
                let last = key.rsplit('.').next().unwrap_or(&key);
                let problem = if names_secret(last)
                    && !problem.starts_with("unknown field")
                    && problem != crate::secret::NOT_A_STRING
                {
                    "invalid value (not shown because the key holds a secret)".to_string()
                } else {
                    problem
                };
                ConfigError::new(key, problem)
            });
        let mut raw = raw.map_err(|e| e.naming_env(&overrides))?;
        raw.env_overrides = overrides;
        Ok(raw)
    }
}

impl ConfigError {
    /// This error, saying which `WORKSPACE_EXPORTER__*` variable set its key (or the
    /// key's `*_file` twin, for a value/file conflict) when one did, so the operator
    /// looks in the environment and not only in the file.
    pub(super) fn naming_env(mut self, overrides: &[(String, String)]) -> ConfigError {
        let file_twin = format!("{}_file", self.key);
        let named: Vec<String> = overrides
            .iter()
            .filter(|(key, _)| *key == self.key || *key == file_twin)
            .map(|(key, var)| format!("{key} is set by the environment variable {var}"))
            .collect();
        if !named.is_empty() {
            self.problem = format!(
                "{} ({}: unset it, or remove the key from the file)",
                self.problem,
                named.join("; ")
            );
        }
        self
    }
}

/// A TOML syntax error as a [`ConfigError`]: the key it concerns (when the error is on
/// an assignment), the line and column, and the parser's reason. The source line is
/// never quoted, and for a key that names a secret the message says so.
fn syntax_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let offset = error.span().map_or(0, |s| s.start).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before, |i| &before[i + 1..])
        .chars()
        .count()
        + 1;
    let reason = error.message().trim().replace('\n', "; ");
    let mut problem = format!("line {line}, column {column}: {reason}");
    let key = key_at(text, line);
    if let Some(key) = &key {
        let last = key.rsplit('.').next().unwrap_or(key);
        if names_secret(last) {
            problem.push_str(
                " (the line is not shown because the key holds a secret; quote the value, e.g. key = \"...\")",
            );
        }
    }
    ConfigError::new(key.unwrap_or_else(|| "config.file".into()), problem)
}

/// The full key (e.g. `huaweicloud[1].secret_key`) assigned on `line` (1-based) of a
/// TOML text, or on the nearest assignment above it when `line` continues a value;
/// `None` when the line is a table header or no key precedes it. A best-effort reading
/// used only to name the key in a syntax error.
fn key_at(text: &str, line: usize) -> Option<String> {
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    let mut table = String::new();
    let mut key = None;
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            format!("{a}.{b}")
        }
    };
    // A dotted table name with the current index of every array table above it.
    let resolve = |name: &str, arrays: &std::collections::HashMap<String, usize>| {
        let parts: Vec<&str> = name
            .split('.')
            .map(|p| p.trim().trim_matches('"'))
            .collect();
        let mut path = String::new();
        for (i, part) in parts.iter().enumerate() {
            path = join(&path, part);
            if i + 1 < parts.len()
                && let Some(n) = arrays.get(&path)
            {
                path = format!("{path}[{}]", n - 1);
            }
        }
        path
    };
    for (i, raw) in text.lines().enumerate().take(line) {
        let t = raw.trim();
        let is_error_line = i + 1 == line;
        if let Some(rest) = t.strip_prefix("[[") {
            if is_error_line {
                return None;
            }
            let name = rest.split("]]").next().unwrap_or(rest).trim();
            let parent = resolve(name, &arrays);
            let count = arrays.entry(parent.clone()).or_insert(0);
            *count += 1;
            table = format!("{parent}[{}]", *count - 1);
            key = None;
        } else if let Some(rest) = t.strip_prefix('[') {
            if is_error_line {
                return None;
            }
            let name = rest.split(']').next().unwrap_or(rest).trim();
            table = resolve(name, &arrays);
            if let Some(n) = arrays.get(&table) {
                table = format!("{table}[{}]", n - 1);
            }
            key = None;
        } else if !t.starts_with('#')
            && let Some((k, _)) = t.split_once('=')
        {
            let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
            if !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
            {
                key = Some(join(&table, k));
            }
        }
    }
    key
}

/// `HUAWEICLOUD__0__SECRET_KEY` → `huaweicloud[0].secret_key`.
pub(super) fn env_key(rest: &str) -> Option<String> {
    let mut key = String::new();
    for part in rest.split("__") {
        if part.is_empty() {
            return None;
        }
        if part.bytes().all(|b| b.is_ascii_digit()) {
            if key.is_empty() || part.parse::<usize>().map_or(true, |i| i > MAX_ENV_INDEX) {
                return None;
            }
            key.push('[');
            key.push_str(part);
            key.push(']');
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&part.to_ascii_lowercase());
        }
    }
    (!key.is_empty()).then_some(key)
}

/// The `config` crate appends its own key description to some messages; our key comes
/// from the serde path, so drop the duplicate.
fn strip_config_noise(message: &str) -> String {
    match message.find(" for key `") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

pub(super) fn lookup(env: &[(String, String)], name: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Highest list index an environment override may name.
const MAX_ENV_INDEX: usize = 999;
