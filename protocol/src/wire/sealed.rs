//! The sync bodies of an end-to-end encrypted account (README "Encrypted notes on the
//! server"): a note is named by its path key where a plaintext body names its path, and
//! versions carry the sealed path and manifest, opaque to the server. These are their own
//! types, never a plaintext body with optional fields: an encrypted account refuses the
//! plaintext shapes (`vault_encrypted`) and a plaintext account these (`vault_not_encrypted`).
//!
//! Requests carry text and JSON numbers, checked per file by the server; answers carry the
//! parsed [`Key32`] and [`SealedBytes`].

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use super::Code;
use crate::domain::{ContentHash, DeviceId};
use crate::error::{ErrorCode, ParseError};

/// Most bytes of one sealed path or sealed manifest (a 1,024-byte path sealed takes 1,101).
pub const MAX_SEALED_BYTES: usize = 2048;

/// 32 bytes as 64 lowercase hex characters: a path key or a blob id (both HMAC-SHA-256).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Key32(pub [u8; 32]);

impl Key32 {
    /// Parses 64 lowercase hex characters; `code` says which field was wrong.
    pub fn parse_as(raw: &str, code: ErrorCode, field: &str) -> Result<Self, ParseError> {
        let invalid =
            || ParseError::new(code, format!("{field} must be 64 lowercase hex characters"));
        if raw.len() != 64 || !raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(raw, &mut bytes).map_err(|_| invalid())?;
        Ok(Key32(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Display for Key32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for Key32 {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Key32::parse_as(&raw, ErrorCode::InvalidPathKey, "path_key")
    }
}

impl From<Key32> for String {
    fn from(key: Key32) -> String {
        key.to_hex()
    }
}

/// Opaque sealed bytes (an encrypted path or manifest), 1 to [`MAX_SEALED_BYTES`], as
/// standard base64 with padding.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SealedBytes(Vec<u8>);

impl SealedBytes {
    pub fn parse(raw: &str, field: &str) -> Result<Self, ParseError> {
        let invalid = || {
            ParseError::new(
                ErrorCode::InvalidSealedField,
                format!(
                    "{field} must be 1 to {MAX_SEALED_BYTES} bytes in standard base64 (with padding)"
                ),
            )
        };
        // Bounded before decoding: 2,048 bytes are 2,732 base64 characters.
        if raw.is_empty() || raw.len() > MAX_SEALED_BYTES.div_ceil(3) * 4 {
            return Err(invalid());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| invalid())?;
        SealedBytes::new(bytes).ok_or_else(invalid)
    }

    /// `None` when empty or longer than [`MAX_SEALED_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (!bytes.is_empty() && bytes.len() <= MAX_SEALED_BYTES).then_some(SealedBytes(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
}

impl fmt::Debug for SealedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedBytes({} bytes)", self.0.len())
    }
}

impl TryFrom<String> for SealedBytes {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        SealedBytes::parse(&raw, "sealed field")
    }
}

impl From<SealedBytes> for String {
    fn from(bytes: SealedBytes) -> String {
        bytes.to_base64()
    }
}

// ---- requests -------------------------------------------------------------------------

/// A write as `POST /vault/push` receives it from an encrypted account: `content_hash` and
/// `size_bytes` are the ciphertext's, `blob_id` the HMAC of the plaintext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedPushEntry {
    pub path_key: String,
    pub base_version: Number,
    pub blob_id: String,
    pub content_hash: String,
    pub size_bytes: Number,
}

/// The body of push for an encrypted account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedPushRequest {
    pub files: Vec<SealedPushEntry>,
}

/// A write as `POST /vault/push/confirm` receives it from an encrypted account: the push
/// entry, the `version` push answered, and the path and manifest sealed for that version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedConfirmEntry {
    pub path_key: String,
    pub base_version: Number,
    pub version: Number,
    pub blob_id: String,
    pub content_hash: String,
    pub size_bytes: Number,
    pub sealed_path: String,
    pub sealed_manifest: String,
}

/// The body of confirm for an encrypted account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedConfirmRequest {
    pub files: Vec<SealedConfirmEntry>,
}

/// A tombstone as delete receives it from an encrypted account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedDeleteEntry {
    pub path_key: String,
    pub base_version: Number,
}

/// The body of delete for an encrypted account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedDeleteRequest {
    pub files: Vec<SealedDeleteEntry>,
    #[serde(default)]
    pub confirm_mass_delete: bool,
}

/// One version of one note, by number (pull's `files`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedVersionRef {
    pub path_key: String,
    pub version: Number,
}

/// The body of pull for an encrypted account: current versions (`path_keys`) or exact ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SealedPullRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_keys: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<SealedVersionRef>>,
}

// ---- entries answers share ------------------------------------------------------------

/// What a version of an encrypted note carries beside its bytes. `manifest_version` is the
/// version the manifest was sealed as: the version itself, or for a version the server made
/// (tombstone, restore, rewind) the version it copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub sealed_path: SealedBytes,
    pub sealed_manifest: SealedBytes,
    pub manifest_version: i64,
    pub blob_id: Key32,
}

/// A file refused on its own, with why. `path_key` is the text as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRejected {
    pub path_key: String,
    pub code: Code,
    pub message: String,
}

/// The server's side of a conflict: `sealed` is null for a missing note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedConflict {
    pub path_key: Key32,
    pub base_version: i64,
    /// 0 when the server has no such note.
    pub server_version: i64,
    pub content_hash: Option<ContentHash>,
    pub size_bytes: Option<i64>,
    pub is_deleted: bool,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<DeviceId>,
    pub download_url: Option<String>,
    pub sealed: Option<Sealed>,
}

/// A version as an answer names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedVersioned {
    pub path_key: Key32,
    pub version: i64,
    pub content_hash: ContentHash,
}

/// A tombstone as an answer names it, with the sealed fields of the note it deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedTombstone {
    pub path_key: Key32,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
    pub sealed: Option<Sealed>,
}

// ---- answers --------------------------------------------------------------------------

/// One note in `GET /vault/state` of an encrypted account. A full entry carries
/// `content_hash` and `sealed`; a brief one (`brief: true`, [`OwnEntries::Brief`]) neither:
/// the calling device's own live version, which it recorded when it wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedStateFile {
    pub path_key: Key32,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<ContentHash>,
    pub size_bytes: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<DeviceId>,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<Sealed>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub brief: bool,
}

/// `GET /vault/state?own=`: how an encrypted account's listing answers the calling device's
/// own live versions (`updated_by` is the caller): `full` (the default) like every other
/// entry, `brief` without `content_hash` and `sealed` (a device holds them already: it
/// recorded them when it wrote the version). A plaintext account accepts either and answers
/// as always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OwnEntries {
    #[default]
    Full,
    Brief,
}

impl OwnEntries {
    /// The query parameter's name.
    pub const PARAM: &'static str = "own";

    /// The parameter as sent (`None`: absent, the default); anything but `full` or `brief`
    /// is `invalid_request`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ParseError> {
        match raw {
            None | Some("full") => Ok(OwnEntries::Full),
            Some("brief") => Ok(OwnEntries::Brief),
            Some(_) => Err(ParseError::new(
                ErrorCode::InvalidRequest,
                "own must be \"full\" or \"brief\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OwnEntries::Full => "full",
            OwnEntries::Brief => "brief",
        }
    }
}

/// `GET /vault/state` of an encrypted account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedStateAnswer {
    pub files: Vec<SealedStateFile>,
    pub cursor: String,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
    /// Always true: tells a device which shape it reads.
    pub encrypted: bool,
}

/// One upload push hands out to an encrypted account. `content_hash` and `size_bytes` are
/// what the version will store: another ciphertext of the same blob id when the account
/// already has one (then `upload_url` is null). `version`: the version to seal the manifest as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedUpload {
    pub path_key: Key32,
    pub base_version: i64,
    pub version: i64,
    pub blob_id: Key32,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub upload_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// As [`super::Upload::deferred`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deferred: bool,
}

/// `POST /vault/push` of an encrypted account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SealedPushAnswer {
    pub uploads: Vec<SealedUpload>,
    pub unchanged: Vec<SealedVersioned>,
    pub conflicts: Vec<SealedConflict>,
    pub rejected: Vec<SealedRejected>,
}

/// An upload confirm could not find as promised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedMissing {
    pub path_key: Key32,
    pub content_hash: ContentHash,
    pub code: Code,
}

/// `POST /vault/push/confirm` of an encrypted account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SealedConfirmAnswer {
    pub confirmed: Vec<SealedVersioned>,
    pub conflicts: Vec<SealedConflict>,
    pub missing: Vec<SealedMissing>,
    pub rejected: Vec<SealedRejected>,
}

/// One download pull hands out to an encrypted account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedDownload {
    pub path_key: Key32,
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub download_url: String,
    pub expires_at: DateTime<Utc>,
    pub sealed: Option<Sealed>,
}

/// `POST /vault/pull` of an encrypted account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedPullAnswer {
    pub files: Vec<SealedDownload>,
    pub deleted: Vec<SealedTombstone>,
    pub not_found: Vec<Key32>,
    pub rejected: Vec<SealedRejected>,
}

/// `POST /vault/delete` of an encrypted account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SealedDeleteAnswer {
    pub deleted: Vec<SealedTombstone>,
    pub conflicts: Vec<SealedConflict>,
    pub not_found: Vec<Key32>,
    pub rejected: Vec<SealedRejected>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_lowercase_hex() {
        let good = "ab".repeat(32);
        assert!(Key32::parse_as(&good, ErrorCode::InvalidBlobId, "blob_id").is_ok());
        for bad in [
            "",
            &"AB".repeat(32),
            &"ab".repeat(31),
            &"zz".repeat(32),
            &"ab".repeat(33),
        ] {
            let err = Key32::parse_as(bad, ErrorCode::InvalidBlobId, "blob_id").unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidBlobId, "{bad}");
        }
    }

    #[test]
    fn own_is_full_brief_or_refused() {
        let cases: [(Option<&str>, Option<OwnEntries>); 6] = [
            (None, Some(OwnEntries::Full)),
            (Some("full"), Some(OwnEntries::Full)),
            (Some("brief"), Some(OwnEntries::Brief)),
            (Some("Brief"), None),
            (Some(""), None),
            (Some("short"), None),
        ];
        for (raw, want) in cases {
            let got = OwnEntries::parse(raw);
            assert_eq!(got.as_ref().ok().copied(), want, "{raw:?}");
            if let Err(e) = got {
                assert_eq!(e.code, ErrorCode::InvalidRequest, "{raw:?}");
            }
        }
        for own in [OwnEntries::Full, OwnEntries::Brief] {
            assert_eq!(OwnEntries::parse(Some(own.as_str())).ok(), Some(own));
        }
    }

    #[test]
    fn sealed_bytes_are_bounded_base64() {
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        assert!(SealedBytes::parse(&b64(1), "x").is_ok());
        assert!(SealedBytes::parse(&b64(MAX_SEALED_BYTES), "x").is_ok());
        for bad in [
            String::new(),
            b64(MAX_SEALED_BYTES + 1),
            "not base64!".into(),
            "AAA".into(),
        ] {
            let err = SealedBytes::parse(&bad, "x").unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidSealedField, "{bad}");
        }
    }
}
