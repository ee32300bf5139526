//! The client's one error type: what went wrong, worded for the person running `steel-sync`.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The request may or may not have reached the server; the next sync finds out.
    #[error("network error during {op}: {message}")]
    Network { op: &'static str, message: String },
    #[error("the server refused {op} ({status} {code}): {message}")]
    Api {
        op: &'static str,
        status: u16,
        code: String,
        message: String,
        /// The answer's `Retry-After` in seconds (429 and 503 send one), when readable.
        retry_after: Option<u64>,
    },
    #[error("not signed in or the session has ended: {0} (run `steel-sync login`)")]
    Auth(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("local sync database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("downloaded bytes of {path} do not match their hash (expected {expected})")]
    Integrity { path: String, expected: String },
    /// End-to-end encryption: a wrong passphrase or recovery code, or bytes from the server
    /// that fail authentication.
    #[error("end-to-end encryption: {0}")]
    Crypto(#[from] steel_crypto::CryptoError),
    /// End-to-end encryption: what the server sent for a note (its name, manifest or bytes)
    /// fails its check; nothing of it was written.
    #[error(
        "note {note}: what the server sent fails its end-to-end check ({why}); nothing of it \
         was written"
    )]
    Tampered { note: String, why: String },
    /// The account is end-to-end encrypted and this device does not hold the vault key.
    #[error(
        "this vault is end-to-end encrypted and this device does not hold its key: run \
         `steel-sync unlock` (with the passphrase or the recovery code) first"
    )]
    Locked,
    /// A test fault: the process "died" at this point.
    #[error("simulated crash: {0}")]
    Crash(String),
    #[error("{0}")]
    Other(String),
}

impl SyncError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SyncError {
        let path = path.into();
        move |source| SyncError::Io { path, source }
    }
}

pub type Result<T, E = SyncError> = std::result::Result<T, E>;
