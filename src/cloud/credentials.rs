//! Where a target's keys come from: the input of the "sign" step (poll → **sign** →
//! send). Configuration resolves a target's credentials into a [`Credentials`]; the
//! cloud clients ask it for the [`Keys`] to sign each request with.
//!
//! Today every source is static: the keys written in the configuration, as a value, a
//! file, or the SDK's environment variable. Keys read from files follow the files: when
//! one changes on disk (a rotated Kubernetes Secret swaps a symlink; a Vault agent
//! rewrites the file), the next request signs with its new content, without a reload.
//! Sources that fetch and refresh temporary keys (instance metadata, OIDC, assumed
//! roles) become further variants, so clients never change when one is added.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::secret::Secret;

/// An access key pair and, for temporary keys, their security token. The same shape on
/// both clouds: Huawei's AK/SK/security token, Alibaba's AccessKey ID/secret/STS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Access key (Huawei AK, Alibaba AccessKey ID).
    pub access_key: Secret,
    /// Secret key (Huawei SK, Alibaba AccessKey secret).
    pub secret_key: Secret,
    /// Security token of temporary keys; sent with every request.
    pub security_token: Option<Secret>,
}

/// The files the keys were read from, if any (each trimmed when read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFiles {
    /// The access key's file.
    pub access_key: Option<PathBuf>,
    /// The secret key's file.
    pub secret_key: Option<PathBuf>,
    /// The security token's file.
    pub security_token: Option<PathBuf>,
}

/// A target's source of keys; clones share it, so every collector of a target sees the
/// same keys.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Keys written in the configuration; those read from files follow the files.
    Static(Arc<StaticKeys>),
}

impl Credentials {
    /// Keys that never change.
    pub fn fixed(keys: Keys) -> Self {
        Self::from_files(keys, KeyFiles::default())
    }

    /// `keys`, as first read, some of them from `files`.
    pub fn from_files(keys: Keys, files: KeyFiles) -> Self {
        let stamps = files.paths().map(|p| p.and_then(stamp));
        Credentials::Static(Arc::new(StaticKeys {
            files,
            state: Mutex::new(FileState {
                keys: Arc::new(keys),
                stamps,
                warned: None,
            }),
        }))
    }

    /// The keys to sign the next request with.
    pub fn keys(&self) -> Arc<Keys> {
        match self {
            Credentials::Static(source) => source.current(),
        }
    }
}

/// Static keys, some of them read from files that are watched for changes.
pub struct StaticKeys {
    /// Where each key came from, when from a file.
    files: KeyFiles,
    /// The keys now, and the state of their files when they were read.
    state: Mutex<FileState>,
}

impl std::fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKeys")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// What identifies one version of a file: modification time, size and inode.
type Stamp = (SystemTime, u64, u64);

#[derive(Debug)]
struct FileState {
    /// The keys in use.
    keys: Arc<Keys>,
    /// Access key, secret key and token file stamps when last read.
    stamps: [Option<Stamp>; 3],
    /// The stamps of a version that could not be read, warned about once.
    warned: Option<[Option<Stamp>; 3]>,
}

impl KeyFiles {
    fn paths(&self) -> [Option<&PathBuf>; 3] {
        [
            self.access_key.as_ref(),
            self.secret_key.as_ref(),
            self.security_token.as_ref(),
        ]
    }
}

fn stamp(path: &PathBuf) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

/// Why a secret file gave no secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// It could not be read.
    #[error("cannot read secret file {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It holds nothing but whitespace.
    #[error("secret file {} is empty", .0.display())]
    Empty(PathBuf),
}

/// A secret file's content with surrounding whitespace (the final newline `echo`
/// writes) trimmed: how configuration reads it at load, and how the keys follow it.
pub fn read_secret_file(path: &Path) -> Result<Secret, SecretFileError> {
    let content = std::fs::read_to_string(path).map_err(|source| SecretFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let content = content.trim();
    if content.is_empty() {
        return Err(SecretFileError::Empty(path.to_path_buf()));
    }
    Ok(Secret::new(content))
}

impl StaticKeys {
    /// The keys, re-read first when one of their files changed. A file that cannot be
    /// read (missing for a moment during a rotation, or empty) keeps the keys in use,
    /// with one warning naming the file (never its content).
    fn current(&self) -> Arc<Keys> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let paths = self.files.paths();
        if paths.iter().all(Option::is_none) {
            return state.keys.clone();
        }
        let stamps = paths.map(|p| p.and_then(stamp));
        if stamps == state.stamps || state.warned == Some(stamps) {
            return state.keys.clone();
        }
        let mut keys = (*state.keys).clone();
        let mut unreadable = None;
        let mut reread = |path: Option<&PathBuf>| {
            read_secret_file(path?)
                .map_err(|e| unreadable = Some(e))
                .ok()
        };
        if let Some(value) = reread(paths[0]) {
            keys.access_key = value;
        }
        if let Some(value) = reread(paths[1]) {
            keys.secret_key = value;
        }
        if let Some(value) = reread(paths[2]) {
            keys.security_token = Some(value);
        }
        if let Some(e) = unreadable {
            tracing::warn!(error = %e, "a credential file changed but gives no secret; signing with the keys read before");
            state.warned = Some(stamps);
            return state.keys.clone();
        }
        if *state.keys != keys {
            tracing::info!("credential files changed on disk; signing with the new keys");
        }
        state.keys = Arc::new(keys);
        state.stamps = stamps;
        state.warned = None;
        state.keys.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_from_files_follow_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let (ak, sk) = (dir.path().join("ak"), dir.path().join("sk"));
        std::fs::write(&ak, "AK1\n").unwrap();
        std::fs::write(&sk, "SK1\n").unwrap();
        let keys = Keys {
            access_key: Secret::new("AK1"),
            secret_key: Secret::new("SK1"),
            security_token: None,
        };
        let files = KeyFiles {
            access_key: Some(ak.clone()),
            secret_key: Some(sk.clone()),
            security_token: None,
        };
        let credentials = Credentials::from_files(keys, files);
        assert_eq!(credentials.keys().secret_key.expose(), "SK1");
        // A rotation the way Kubernetes does it: a new file renamed over the old one.
        let new = dir.path().join("sk.new");
        std::fs::write(&new, "SK2-longer\n").unwrap();
        std::fs::rename(&new, &sk).unwrap();
        assert_eq!(credentials.keys().secret_key.expose(), "SK2-longer");
        assert_eq!(credentials.keys().access_key.expose(), "AK1");
        // A file that vanishes or empties keeps the keys in use.
        std::fs::remove_file(&sk).unwrap();
        assert_eq!(credentials.keys().secret_key.expose(), "SK2-longer");
        std::fs::write(&sk, "  \n").unwrap();
        assert_eq!(credentials.keys().secret_key.expose(), "SK2-longer");
        std::fs::write(&sk, "SK3\n").unwrap();
        assert_eq!(credentials.keys().secret_key.expose(), "SK3");
        // Clones share the source.
        let clone = credentials.clone();
        assert_eq!(clone.keys().secret_key.expose(), "SK3");
        assert!(!format!("{credentials:?}").contains("SK3"));
    }
}
