//! The one error the apps switch on ([`EngineError`]: a Kotlin sealed exception class, a
//! Swift enum), and the one an app's own code throws back into the engine ([`AppError`]).
//! Every [`SyncError`] of the library maps to exactly one case, by kind, never by parsing
//! a message.

use steel_crypto::CryptoError;
use steel_sync::SyncError;

/// What went wrong, by what the app should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum EngineError {
    /// The server could not be reached (no network, DNS, a timeout). Nothing was lost: the
    /// next sync resumes. The status observer shows `Offline`.
    #[error("offline: {reason}")]
    Offline { reason: String },
    /// Not signed in, or the session ended (refresh token refused, device removed, account
    /// deleted): sign in again.
    #[error("signed out: {reason}")]
    SignedOut { reason: String },
    /// The server held back a delete of many notes (409 `mass_delete_held`); ask the person,
    /// then `allowMassDelete()` or `restoreMissing()`. (A hold found by this device's own
    /// guard is not an error: it is `SyncReport.heldDeletes`.)
    #[error("mass delete held: {reason}")]
    MassDeleteHeld { reason: String },
    /// The account's storage is full.
    #[error("quota exceeded: {reason}")]
    QuotaExceeded { reason: String },
    /// The note changed on the server meanwhile (a restore based on an older version); try
    /// again.
    #[error("conflict on {path}: {reason}")]
    Conflict { path: String, reason: String },
    /// The server is down or overloaded (5xx); try again later. `retry_after_secs` is the
    /// server's `Retry-After` when it sent one (503 `temporarily_unavailable` does).
    #[error("server unavailable: {reason}")]
    ServerUnavailable {
        retry_after_secs: Option<u64>,
        reason: String,
    },
    /// Too many requests (429), after the library's own waits (it sends a rate-limited
    /// request again up to 8 times): wait `retry_after_secs`, the server's `Retry-After`.
    #[error("rate limited: {reason}")]
    RateLimited {
        retry_after_secs: Option<u64>,
        reason: String,
    },
    /// The server refused the request for another reason (its error code).
    #[error("refused ({status} {code}): {reason}")]
    Refused {
        status: u16,
        code: String,
        reason: String,
    },
    /// Not found: no such note, version or device.
    #[error("not found: {reason}")]
    NotFound { reason: String },
    /// The app's `TokenStore` failed (its own exception, as text).
    #[error("token store: {reason}")]
    TokenStoreFailed { reason: String },
    /// The account is end-to-end encrypted and this device does not hold its key (409
    /// `vault_encrypted`): ask for the passphrase and `unlock()` (or
    /// `unlockWithRecoveryCode()`), then sync again.
    #[error("locked: {reason}")]
    Locked { reason: String },
    /// The passphrase or recovery code does not open the vault (or the recovery code has a
    /// typo its check characters caught). Nothing was changed.
    #[error("wrong secret: {reason}")]
    WrongSecret { reason: String },
    /// The app's `VaultKeyStore` failed (its own exception, as text).
    #[error("key store: {reason}")]
    KeyStoreFailed { reason: String },
    /// The vault folder or its local sync database could not be read or written.
    #[error("local storage: {reason}")]
    LocalStorage { reason: String },
    /// Downloaded bytes did not match their hash, or (end-to-end encrypted) failed their
    /// authentication; nothing was written.
    #[error("integrity: {reason}")]
    Integrity { reason: String },
    /// A bad argument from the app (an unknown path, a malformed date).
    #[error("invalid argument: {reason}")]
    InvalidArgument { reason: String },
    /// A bug: please report it with the message.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

/// What an app-implemented interface (`TokenStore`, `StatusObserver`) throws. Any other
/// exception it throws arrives as `Failed` too, never as a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum AppError {
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for AppError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        AppError::Failed { reason: e.reason }
    }
}

impl From<AppError> for EngineError {
    fn from(e: AppError) -> Self {
        EngineError::TokenStoreFailed {
            reason: e.to_string(),
        }
    }
}

impl From<SyncError> for EngineError {
    fn from(e: SyncError) -> Self {
        let reason = e.to_string();
        match e {
            SyncError::Network { .. } => EngineError::Offline { reason },
            SyncError::Auth(_) => EngineError::SignedOut { reason },
            SyncError::Api {
                status,
                code,
                message,
                retry_after,
                ..
            } => from_api(status, code, message, retry_after),
            SyncError::Io { .. } | SyncError::Db(_) => EngineError::LocalStorage { reason },
            SyncError::Crypto(
                CryptoError::WrongPassphrase
                | CryptoError::WrongRecoveryCode
                | CryptoError::RecoveryCodeTypo
                | CryptoError::RecoveryCodeFormat(_),
            ) => EngineError::WrongSecret { reason },
            SyncError::Integrity { .. } | SyncError::Tampered { .. } | SyncError::Crypto(_) => {
                EngineError::Integrity { reason }
            }
            SyncError::Locked => EngineError::Locked { reason },
            SyncError::Crash(_) | SyncError::Other(_) => EngineError::Internal { reason },
        }
    }
}

/// A refusal by the server, by its status and error code.
fn from_api(status: u16, code: String, reason: String, retry_after: Option<u64>) -> EngineError {
    match (status, code.as_str()) {
        (401, _) => EngineError::SignedOut { reason },
        (_, "mass_delete_held") => EngineError::MassDeleteHeld { reason },
        (_, "quota_exceeded") => EngineError::QuotaExceeded { reason },
        (_, "vault_encrypted") => EngineError::Locked { reason },
        (429, _) => EngineError::RateLimited {
            retry_after_secs: retry_after,
            reason,
        },
        (404, _) | (_, "not_found" | "device_not_found") => EngineError::NotFound { reason },
        (500..=599, _) | (_, "temporarily_unavailable") => EngineError::ServerUnavailable {
            retry_after_secs: retry_after,
            reason,
        },
        _ => EngineError::Refused {
            status,
            code,
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> SyncError {
        SyncError::Api {
            op: "push",
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: None,
        }
    }

    /// The case name of an error, for the table below.
    fn case(e: &EngineError) -> &'static str {
        match e {
            EngineError::Offline { .. } => "Offline",
            EngineError::SignedOut { .. } => "SignedOut",
            EngineError::MassDeleteHeld { .. } => "MassDeleteHeld",
            EngineError::QuotaExceeded { .. } => "QuotaExceeded",
            EngineError::Conflict { .. } => "Conflict",
            EngineError::ServerUnavailable { .. } => "ServerUnavailable",
            EngineError::RateLimited { .. } => "RateLimited",
            EngineError::Refused { .. } => "Refused",
            EngineError::NotFound { .. } => "NotFound",
            EngineError::TokenStoreFailed { .. } => "TokenStoreFailed",
            EngineError::Locked { .. } => "Locked",
            EngineError::WrongSecret { .. } => "WrongSecret",
            EngineError::KeyStoreFailed { .. } => "KeyStoreFailed",
            EngineError::LocalStorage { .. } => "LocalStorage",
            EngineError::Integrity { .. } => "Integrity",
            EngineError::InvalidArgument { .. } => "InvalidArgument",
            EngineError::Internal { .. } => "Internal",
        }
    }

    #[test]
    fn every_library_error_maps_to_the_case_an_app_acts_on() {
        let table: Vec<(SyncError, &str)> = vec![
            (
                SyncError::Network {
                    op: "state",
                    message: "connection refused".into(),
                },
                "Offline",
            ),
            (SyncError::Auth("no session".into()), "SignedOut"),
            (api(401, "invalid_token"), "SignedOut"),
            (api(409, "mass_delete_held"), "MassDeleteHeld"),
            (api(413, "quota_exceeded"), "QuotaExceeded"),
            (api(429, "upload_limit"), "RateLimited"),
            (api(429, "rate_limited"), "RateLimited"),
            (api(503, "temporarily_unavailable"), "ServerUnavailable"),
            (api(502, "http_error"), "ServerUnavailable"),
            (api(404, "not_found"), "NotFound"),
            (api(400, "push_too_large"), "Refused"),
            (api(410, "resync_required"), "Refused"),
            (api(409, "vault_encrypted"), "Locked"),
            (SyncError::Locked, "Locked"),
            (api(409, "vault_not_encrypted"), "Refused"),
            (
                SyncError::Crypto(CryptoError::WrongPassphrase),
                "WrongSecret",
            ),
            (
                SyncError::Crypto(CryptoError::WrongRecoveryCode),
                "WrongSecret",
            ),
            (
                SyncError::Crypto(CryptoError::RecoveryCodeTypo),
                "WrongSecret",
            ),
            (SyncError::Crypto(CryptoError::BlobIdMismatch), "Integrity"),
            (
                SyncError::Tampered {
                    note: "00".into(),
                    why: "manifest failed authentication".into(),
                },
                "Integrity",
            ),
            (
                SyncError::Crypto(CryptoError::Authentication { what: "manifest" }),
                "Integrity",
            ),
            (
                SyncError::Io {
                    path: "/v/a.md".into(),
                    source: std::io::Error::other("disk full"),
                },
                "LocalStorage",
            ),
            (
                SyncError::Integrity {
                    path: "a.md".into(),
                    expected: "00".into(),
                },
                "Integrity",
            ),
            (SyncError::Other("odd".into()), "Internal"),
        ];
        for (error, want) in table {
            let shown = error.to_string();
            let mapped = EngineError::from(error);
            assert_eq!(case(&mapped), want, "{shown}");
        }
    }

    #[test]
    fn a_refusal_keeps_the_servers_status_and_code() {
        assert_eq!(
            EngineError::from(api(400, "push_too_large")),
            EngineError::Refused {
                status: 400,
                code: "push_too_large".into(),
                reason: "m".into()
            }
        );
    }

    #[test]
    fn the_servers_retry_after_reaches_the_app() {
        let with = |status: u16, code: &str, secs: Option<u64>| SyncError::Api {
            op: "state",
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: secs,
        };
        assert_eq!(
            EngineError::from(with(429, "rate_limited", Some(7))),
            EngineError::RateLimited {
                retry_after_secs: Some(7),
                reason: "m".into()
            }
        );
        assert_eq!(
            EngineError::from(with(503, "temporarily_unavailable", Some(1))),
            EngineError::ServerUnavailable {
                retry_after_secs: Some(1),
                reason: "m".into()
            }
        );
        assert!(matches!(
            EngineError::from(with(502, "http_error", None)),
            EngineError::ServerUnavailable {
                retry_after_secs: None,
                ..
            }
        ));
    }

    #[test]
    fn an_app_failure_is_a_token_store_error_with_its_words() {
        let e: EngineError = AppError::Failed {
            reason: "keychain locked".into(),
        }
        .into();
        assert_eq!(
            e,
            EngineError::TokenStoreFailed {
                reason: "keychain locked".into()
            }
        );
    }
}
