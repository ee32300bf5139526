//! The recovery endpoints: `GET /vault/history`, `GET /vault/deleted`, `POST /vault/restore`
//! (versions, or a rewind to a moment), and the numbers of a held mass delete.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use super::{Conflict, Rejected};
use crate::domain::{ContentHash, DeviceId, VaultPath};

/// The device behind a change, as recovery answers name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRef {
    pub device_id: DeviceId,
    pub device_name: String,
    pub removed: bool,
}

/// One version in `GET /vault/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryVersion {
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
    pub created_at: DateTime<Utc>,
    /// Null when the change came with a token bound to no device.
    pub device: Option<DeviceRef>,
}

/// `GET /vault/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryAnswer {
    pub path: VaultPath,
    pub versions: Vec<HistoryVersion>,
    /// Send it as `cursor` for the older versions; null on the last page.
    pub next_cursor: Option<String>,
}

/// What a restore of a deleted note brings back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastLive {
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    /// Whether its bytes are still stored (a restore of it works).
    pub restorable: bool,
}

/// One note in `GET /vault/deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedNote {
    pub path: VaultPath,
    /// The tombstone's version: the `base_version` of a restore.
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by: Option<DeviceRef>,
    /// What a restore brings back (null if the note never had bytes kept).
    pub last_version: Option<LastLive>,
}

/// `GET /vault/deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedAnswer {
    pub files: Vec<DeletedNote>,
    /// Send it as `cursor` for earlier deletions; null on the last page.
    pub next_cursor: Option<String>,
}

/// One version to bring back, checked against the note's current version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreEntry {
    pub path: String,
    pub version: Number,
    pub base_version: Number,
}

/// `POST /vault/restore`: either `files` (versions), or `as_of` (a rewind of the vault or
/// of `prefix`, page by page with `resume`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<RestoreEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Sent only when true: a versions restore must not carry rewind fields.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove_newer: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
    /// Range-checked by the server (`invalid_limit`), so any JSON number is read here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Number>,
}

/// A version brought back by `POST /vault/restore` with `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    pub path: VaultPath,
    /// The note's version now.
    pub version: i64,
    pub content_hash: ContentHash,
    /// The version whose bytes it has.
    pub restored_from: i64,
}

/// `POST /vault/restore` with `files`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestoreAnswer {
    pub restored: Vec<Restored>,
    pub conflicts: Vec<Conflict>,
    pub not_found: Vec<VaultPath>,
    pub rejected: Vec<Rejected>,
}

/// `POST /vault/restore` with `as_of`: one page of a rewind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewindAnswer {
    /// Notes given back the content they had then.
    pub restored: u64,
    /// Notes deleted: deleted then, or created later with `remove_newer`.
    pub deleted: u64,
    /// Notes already as they were then.
    pub unchanged: u64,
    /// Notes created later and kept.
    pub kept_newer: u64,
    /// Notes left as they are, with why (`content_gone`, `case_conflict`, `quota_exceeded`).
    pub skipped: Vec<Rejected>,
    /// Send it back as `resume` (with the same `as_of`) for the next page; null when done.
    pub resume: Option<String>,
    pub has_more: bool,
}

/// `details` of a 409 `mass_delete_held`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassDelete {
    /// Notes deleted in the last hour before this request.
    pub deleted_last_hour: u64,
    /// Notes this request would delete.
    pub requested: u64,
    /// Notes live now.
    pub live: u64,
}
