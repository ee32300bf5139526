//! The error codes of the API (one list, documented in `openapi.yaml`), the error body every
//! 4xx and 5xx answer carries, and [`ParseError`], why a value from outside was refused.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares [`ErrorCode`]: one variant per documented code, with its wire string.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)+) => {
        /// Every code the API answers, in an error body (`{"error": {"code"}}`) or in a
        /// per-file entry (`rejected[].code`, `missing[].code`). Serialised as the
        /// documented snake_case string; `openapi.yaml` lists each one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, for the check that the OpenAPI document names each one.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)+
                }
            }
        }
    };
}

error_codes! {
    // The body is not the JSON described.
    InvalidBody = "invalid_body",
    InvalidContentType = "invalid_content_type",
    MissingBody = "missing_body",
    MalformedJson = "malformed_json",
    MissingField = "missing_field",
    InvalidType = "invalid_type",
    InvalidValue = "invalid_value",
    UnknownField = "unknown_field",
    InvalidRequest = "invalid_request",
    PayloadTooLarge = "payload_too_large",
    // Sign-in, tokens, devices.
    ProviderNotEnabled = "provider_not_enabled",
    InvalidDeviceName = "invalid_device_name",
    InvalidPushToken = "invalid_push_token",
    PushTokenWrongPlatform = "push_token_wrong_platform",
    InvalidNonce = "invalid_nonce",
    InvalidIdentityToken = "invalid_identity_token",
    MissingToken = "missing_token",
    InvalidToken = "invalid_token",
    InvalidRefreshToken = "invalid_refresh_token",
    RefreshTokenExpired = "refresh_token_expired",
    RefreshTokenRevoked = "refresh_token_revoked",
    RefreshTokenReused = "refresh_token_reused",
    RefreshTokenRequired = "refresh_token_required",
    DeviceNotFound = "device_not_found",
    ConfirmationRequired = "confirmation_required",
    IdentityProviderUnavailable = "identity_provider_unavailable",
    TemporarilyUnavailable = "temporarily_unavailable",
    // Vault requests.
    TooManyFiles = "too_many_files",
    InvalidLimit = "invalid_limit",
    InvalidSince = "invalid_since",
    ResyncRequired = "resync_required",
    MassDeleteHeld = "mass_delete_held",
    NotFound = "not_found",
    InvalidCursor = "invalid_cursor",
    InvalidAsOf = "invalid_as_of",
    ContentGone = "content_gone",
    PushTooLarge = "push_too_large",
    UploadLimit = "upload_limit",
    // Bulk upload (`/vault/bulk`): an index that does not describe the pack (400), a pack
    // that is not the caller's or no longer open (404), one never uploaded (409), one whose
    // bytes are not its index's (400).
    InvalidPackIndex = "invalid_pack_index",
    PackNotFound = "pack_not_found",
    PackNotUploaded = "pack_not_uploaded",
    PackMismatch = "pack_mismatch",
    // Over one of the account's request budgets (429, with Retry-After).
    RateLimited = "rate_limited",
    // Key slots (`/vault/keys`).
    PreconditionRequired = "precondition_required",
    PreconditionFailed = "precondition_failed",
    NoKeySlots = "no_key_slots",
    TooManyKeySlots = "too_many_key_slots",
    InvalidKeySlot = "invalid_key_slot",
    DuplicateKeySlot = "duplicate_key_slot",
    InvalidKeyring = "invalid_keyring",
    KeyGenerationMismatch = "key_generation_mismatch",
    // The body's shape is not the account's mode (409): plaintext bodies to an encrypted
    // account, encrypted bodies to a plaintext one.
    VaultEncrypted = "vault_encrypted",
    VaultNotEncrypted = "vault_not_encrypted",
    // A first `PUT /vault/keys` on an account that has notes (409).
    VaultNotEmpty = "vault_not_empty",
    // Turning encryption on for a vault with notes (`/vault/migration`, 409): no migration
    // under way, and a switch while some live note has no staged copy of its current version.
    NotMigrating = "not_migrating",
    MigrationIncomplete = "migration_incomplete",
    // Per-file refusals (`rejected[].code`).
    InvalidPath = "invalid_path",
    DuplicatePath = "duplicate_path",
    InvalidContentHash = "invalid_content_hash",
    InvalidBaseVersion = "invalid_base_version",
    InvalidSize = "invalid_size",
    InvalidVersion = "invalid_version",
    CaseConflict = "case_conflict",
    QuotaExceeded = "quota_exceeded",
    // Per-file refusals of an encrypted account's bodies.
    InvalidPathKey = "invalid_path_key",
    InvalidBlobId = "invalid_blob_id",
    InvalidSealedField = "invalid_sealed_field",
    // Uploads confirm could not find as promised (`missing[].code`).
    NotUploaded = "not_uploaded",
    ContentMismatch = "content_mismatch",
    InternalError = "internal_error",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl ErrorCode {
    /// The code a wire string names, for a client reading an answer.
    pub fn from_wire(raw: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == raw)
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        ErrorCode::from_wire(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {raw:?}")))
    }
}

/// Why a value was refused; the `code` goes to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub code: ErrorCode,
    pub message: String,
}

impl ParseError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ParseError {
            code,
            message: message.into(),
        }
    }
}

/// `{"error": {"code": "...", "message": "...", "details": {...}}}`, as a client reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`]. A code this build does not know stays readable as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// Machine-readable specifics of some errors (`mass_delete_held`: the counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorDetail {
    /// The code, when it is one this build knows.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::from_wire(&self.code)
    }
}
