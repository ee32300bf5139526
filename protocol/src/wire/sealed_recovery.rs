//! The recovery answers of an end-to-end encrypted account (`GET /vault/history`,
//! `GET /vault/deleted`): by path key, each version with its sealed fields (README
//! "Encrypted notes on the server").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DeviceRef, Key32, LastLive, Sealed};
use crate::domain::ContentHash;

/// One version in `GET /vault/history?path_key=` of an encrypted account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedHistoryVersion {
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
    pub created_at: DateTime<Utc>,
    pub device: Option<DeviceRef>,
    pub sealed: Option<Sealed>,
}

/// `GET /vault/history?path_key=` of an encrypted account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedHistoryAnswer {
    pub path_key: Key32,
    pub versions: Vec<SealedHistoryVersion>,
    pub next_cursor: Option<String>,
}

/// One note in `GET /vault/deleted` of an encrypted account: `sealed` is the tombstone's
/// (the sealed fields of the version it deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedDeletedNote {
    pub path_key: Key32,
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by: Option<DeviceRef>,
    pub last_version: Option<LastLive>,
    pub sealed: Option<Sealed>,
}

/// `GET /vault/deleted` of an encrypted account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedDeletedAnswer {
    pub files: Vec<SealedDeletedNote>,
    pub next_cursor: Option<String>,
    /// Always true: tells a device which shape it reads.
    pub encrypted: bool,
}

/// One version to bring back, by path key (`POST /vault/restore` of an encrypted account).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedRestoreEntry {
    pub path_key: String,
    pub version: serde_json::Number,
    pub base_version: serde_json::Number,
}

/// `POST /vault/restore` with `files`, from an encrypted account (a rewind, `as_of`, has no
/// files and is the plaintext request without `prefix`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedRestoreRequest {
    pub files: Vec<SealedRestoreEntry>,
}

/// A note restored: its version now, and the sealed fields it has (those of `restored_from`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRestored {
    pub path_key: Key32,
    pub version: i64,
    pub content_hash: ContentHash,
    pub restored_from: i64,
    pub sealed: Option<Sealed>,
}

/// `POST /vault/restore` with `files`, of an encrypted account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SealedRestoreAnswer {
    pub restored: Vec<SealedRestored>,
    pub conflicts: Vec<super::SealedConflict>,
    pub not_found: Vec<Key32>,
    pub rejected: Vec<super::SealedRejected>,
}

/// `POST /vault/restore` with `as_of`, of an encrypted account: one page of a rewind of the
/// whole vault (no `prefix`: the server knows no folders).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRewindAnswer {
    pub restored: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub kept_newer: u64,
    pub skipped: Vec<super::SealedRejected>,
    pub resume: Option<String>,
    pub has_more: bool,
    /// Always true: tells a device which shape it reads.
    pub encrypted: bool,
}
