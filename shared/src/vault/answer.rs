//! Shapes the vault endpoints share in their answers: a file refused on its own, and the
//! server's side of a conflict.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::FileState;
use crate::domain::{ContentHash, DeviceId, UserId, VaultPath};
use crate::error::{ApiError, ErrorCode};
use crate::storage::{PRESIGN_TTL, Storage};

/// A file refused on its own, with why.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Rejected {
    pub path: String,
    pub code: ErrorCode,
    pub message: String,
}

impl Rejected {
    pub fn new(path: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Rejected {
            path: path.into(),
            code,
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
#[derive(Debug, Serialize)]
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

impl Conflict {
    pub async fn describe(
        storage: &Storage,
        user_id: UserId,
        path: &VaultPath,
        base_version: i64,
        current: Option<&FileState>,
    ) -> Result<Self, ApiError> {
        let download_url = match current {
            Some(row) if !row.is_deleted => Some(
                storage
                    .presign_download(user_id, &row.content_hash, PRESIGN_TTL)
                    .await?
                    .url,
            ),
            _ => None,
        };
        Ok(Conflict {
            path: path.clone(),
            base_version,
            server_version: current.map_or(0, |r| r.version),
            content_hash: current.map(|r| r.content_hash),
            size_bytes: current.map(|r| r.size_bytes),
            is_deleted: current.is_some_and(|r| r.is_deleted),
            updated_at: current.map(|r| r.updated_at),
            updated_by: current.and_then(|r| r.updated_by),
            download_url,
        })
    }
}
