//! The sync endpoints: `GET /vault/state`, `POST /vault/push`, `/vault/push/confirm`,
//! `/vault/pull`, `/vault/delete`, and the entries their answers share.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use super::Code;
use crate::domain::{ContentHash, DeviceId, VaultPath, Version};
use crate::error::ErrorCode;

// ---- requests -------------------------------------------------------------------------

/// A file as push and confirm receive it, before validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub base_version: Number,
    pub content_hash: String,
    pub size_bytes: Number,
}

impl FileEntry {
    pub fn new(path: &VaultPath, base_version: Version, hash: ContentHash, size: u64) -> Self {
        FileEntry {
            path: path.as_str().to_owned(),
            base_version: Number::from(base_version.get()),
            content_hash: hash.to_hex(),
            size_bytes: Number::from(size),
        }
    }
}

/// The body of push and confirm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilesRequest {
    pub files: Vec<FileEntry>,
}

/// A tombstone as delete receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteEntry {
    pub path: String,
    pub base_version: Number,
}

impl DeleteEntry {
    pub fn new(path: &VaultPath, base_version: Version) -> Self {
        DeleteEntry {
            path: path.as_str().to_owned(),
            base_version: Number::from(base_version.get()),
        }
    }
}

/// The body of delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub files: Vec<DeleteEntry>,
    /// Goes past the mass-delete guard: the caller means it.
    #[serde(default)]
    pub confirm_mass_delete: bool,
}

/// One version of one note, by number (pull's `files`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRef {
    pub path: String,
    pub version: Number,
}

/// The body of pull: the current version of `paths`, or exact versions in `files`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<VersionRef>>,
}

// ---- entries answers share ------------------------------------------------------------

/// A file refused on its own, with why. `path` is the text as sent (it may not be a path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub path: String,
    pub code: Code,
    pub message: String,
}

impl Rejected {
    pub fn new(path: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Rejected {
            path: path.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn case_conflict(path: &VaultPath, existing: &VaultPath) -> Self {
        Rejected::new(
            path.as_str(),
            ErrorCode::CaseConflict,
            format!("{existing} already exists and differs only by letter case"),
        )
    }

    pub fn quota_exceeded(path: &VaultPath, quota: u64) -> Self {
        Rejected::new(
            path.as_str(),
            ErrorCode::QuotaExceeded,
            format!("the vault would exceed its quota of {quota} bytes"),
        )
    }
}

/// The server's side of a conflict: enough to merge or to keep both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub path: VaultPath,
    pub base_version: i64,
    /// 0 when the server has no such file.
    pub server_version: i64,
    pub content_hash: Option<ContentHash>,
    pub size_bytes: Option<i64>,
    pub is_deleted: bool,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<DeviceId>,
    /// The server's bytes (null for a tombstone or a missing file).
    pub download_url: Option<String>,
}

/// A note's version as an answer names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned {
    pub path: VaultPath,
    pub version: i64,
    pub content_hash: ContentHash,
}

/// A tombstone as an answer names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub path: VaultPath,
    /// The tombstone's version.
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
}

// ---- answers --------------------------------------------------------------------------

/// One note in `GET /vault/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    pub path: VaultPath,
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<DeviceId>,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// `GET /vault/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateAnswer {
    pub files: Vec<StateFile>,
    /// `c<seq>`: a position in the change feed, to store; `l<seq>` (only with `has_more`):
    /// the next page of a full listing, not to be stored.
    pub cursor: String,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
}

/// One upload push hands out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub path: VaultPath,
    pub base_version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    /// Null when the server already holds these bytes: confirm straight away.
    pub upload_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Send exactly these headers with the PUT; they are part of the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The server needs these bytes but handed out no URL (the push asked `presign=false`):
    /// upload them in an incoming pack, or push again without it. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deferred: bool,
}

impl Upload {
    /// Whether the server needs this upload's bytes (a URL, or one deferred).
    pub fn needs_bytes(&self) -> bool {
        self.upload_url.is_some() || self.deferred
    }
}

/// `POST /vault/push`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PushAnswer {
    pub uploads: Vec<Upload>,
    pub unchanged: Vec<Versioned>,
    pub conflicts: Vec<Conflict>,
    pub rejected: Vec<Rejected>,
}

/// An upload confirm could not find as promised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    pub path: VaultPath,
    pub content_hash: ContentHash,
    /// `not_uploaded`, or `content_mismatch` when the object is not the promised bytes.
    pub code: Code,
}

/// `POST /vault/push/confirm`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfirmAnswer {
    pub confirmed: Vec<Versioned>,
    pub conflicts: Vec<Conflict>,
    pub missing: Vec<Missing>,
    pub rejected: Vec<Rejected>,
}

/// One download pull hands out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    pub path: VaultPath,
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub download_url: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /vault/pull`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullAnswer {
    pub files: Vec<Download>,
    pub deleted: Vec<Tombstone>,
    pub not_found: Vec<VaultPath>,
    pub rejected: Vec<Rejected>,
}

/// `POST /vault/delete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeleteAnswer {
    pub deleted: Vec<Tombstone>,
    pub conflicts: Vec<Conflict>,
    pub not_found: Vec<VaultPath>,
    pub rejected: Vec<Rejected>,
}
