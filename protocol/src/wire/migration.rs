//! Turning end-to-end encryption on for a vault that already has notes: `/vault/migration`
//! (README "Turning encryption on for an existing vault"). The migrating device stages an
//! encrypted copy of each live note, naming the plaintext note and version it encrypts;
//! the switch turns the account encrypted in one step once every live note has a staged
//! copy of its current version.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::domain::{ContentHash, VaultPath};

use super::Rejected;

/// Where an account stands: `plaintext`, `migrating` (slots stored, copies being staged)
/// or `encrypted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultMode {
    Plaintext,
    Migrating,
    Encrypted,
}

/// One staged copy as `POST /vault/migration/stage` receives it: the plaintext note
/// (`path`, `version`) it encrypts, and the fields a sealed confirm carries for it. The
/// manifest is sealed as version 1: the note's first version after the switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageEntry {
    pub path: String,
    pub version: Number,
    pub path_key: String,
    pub blob_id: String,
    pub content_hash: String,
    pub size_bytes: Number,
    pub sealed_path: String,
    pub sealed_manifest: String,
}

/// The body of `POST /vault/migration/stage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRequest {
    pub files: Vec<StageEntry>,
}

/// A plaintext note and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub path: VaultPath,
    pub version: i64,
}

/// A copy whose ciphertext is not in the bucket yet: PUT it there, then stage it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageUpload {
    pub path: VaultPath,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub upload_url: String,
    pub method: String,
    /// Send exactly these headers with the PUT; they are part of the signature.
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// A copy of a plaintext version that is no longer the note's current one: `current` is
/// the note's version now (0 when it is deleted or gone). Stage the current one instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleStage {
    pub path: VaultPath,
    pub version: i64,
    pub current: i64,
}

/// The answer of `POST /vault/migration/stage`: each entry is in exactly one list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageAnswer {
    pub staged: Vec<SourceRef>,
    pub uploads: Vec<StageUpload>,
    pub stale: Vec<StaleStage>,
    pub rejected: Vec<Rejected>,
}

/// The answer of `GET /vault/migration`: the account's mode, and while it migrates how many
/// live notes it has, how many of them have a staged copy of their current version, and
/// (at most 1,000, by path) the live notes that do not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationAnswer {
    pub mode: VaultMode,
    pub live_notes: i64,
    pub staged: i64,
    pub missing: Vec<SourceRef>,
}

/// The answer of `POST /vault/migration/switch`: the account is encrypted, holding `notes`
/// notes at version 1; a device syncs it from `cursor` 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchAnswer {
    pub notes: i64,
    pub cursor: i64,
}
