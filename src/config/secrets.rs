//! Secrets of a target (keys and tokens): from a value key, a `*_file` key (a file
//! holding it, trimmed) or the SDK's environment variable, never echoed in an error.

use std::path::{Path, PathBuf};

use super::ConfigError;
use crate::cloud::credentials::read_secret_file;
use crate::secret::Secret;

/// Whether a key's name says it holds a secret (`*secret*`, `*token*`, `*key*`,
/// `*password*`), so that its value must never appear in a message.
pub fn names_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "key", "password"]
        .iter()
        .any(|word| key.contains(word))
}

/// A secret that must be present: from its value key, its `*_file` key, or `env_name`;
/// with the file it came from, if any.
pub(super) fn required_secret(
    key: &str,
    value: Option<Secret>,
    file: Option<PathBuf>,
    env_name: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Secret, Option<PathBuf>), ConfigError> {
    secret(key, value, file, env_name, base_dir, env)?.ok_or_else(|| missing_secret(key, env_name))
}

fn missing_secret(key: &str, env_name: &str) -> ConfigError {
    ConfigError::new(
        key,
        format!("missing: set {key}, {key}_file, or the environment variable {env_name}"),
    )
}

/// Resolves a secret from its value key, its `*_file` key (returned too, so the keys can
/// follow the file), or an environment fallback.
pub(super) fn secret(
    key: &str,
    value: Option<Secret>,
    file: Option<PathBuf>,
    env_name: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Secret, Option<PathBuf>)>, ConfigError> {
    let file_key = format!("{key}_file");
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            key,
            format!("set either {key} or {file_key}, not both"),
        )),
        (Some(v), None) => {
            let v = v.expose().trim();
            if v.is_empty() {
                Err(ConfigError::new(key, "is empty"))
            } else {
                Ok(Some((Secret::new(v), None)))
            }
        }
        (None, Some(path)) => {
            let path = if path.is_relative() {
                base_dir.join(path)
            } else {
                path
            };
            let secret =
                read_secret_file(&path).map_err(|e| ConfigError::new(&file_key, e.to_string()))?;
            Ok(Some((secret, Some(path))))
        }
        (None, None) => Ok(env(env_name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (Secret::new(v), None))),
    }
}
