//! What the vault endpoints share: request entries parsed per file (one bad file never fails
//! the others), the shapes of conflicts and rejections, and the change notice for the
//! notifier.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::db::{FileState, NewVersion};
use crate::domain::{ContentHash, Cursor, DeviceId, UserId, VaultPath};
use crate::error::ApiError;
use crate::runtime::AppState;
use crate::storage::{PRESIGN_TTL, Storage};

/// Most files one request may name.
pub const MAX_FILES_PER_REQUEST: usize = 1000;

/// A file as push and confirm receive it, before validation.
#[derive(Debug, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub base_version: i64,
    pub content_hash: String,
    pub size_bytes: i64,
}

#[derive(Debug, Deserialize)]
pub struct FilesRequest {
    pub files: Vec<FileEntry>,
}

/// A file refused on its own, with why.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Rejected {
    pub path: String,
    pub code: &'static str,
    pub message: String,
}

impl Rejected {
    pub fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Rejected {
            path: path.into(),
            code,
            message: message.into(),
        }
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

pub fn check_count(n: usize) -> Result<(), ApiError> {
    if n > MAX_FILES_PER_REQUEST {
        return Err(ApiError::bad_request(
            "too_many_files",
            format!("at most {MAX_FILES_PER_REQUEST} files per request, got {n}"),
        ));
    }
    Ok(())
}

/// Parses a path, refusing a second mention of the same file in one request.
pub fn parse_path(raw: &str, seen: &mut HashSet<VaultPath>) -> Result<VaultPath, Rejected> {
    let path = VaultPath::parse(raw).map_err(|e| Rejected::new(raw, e.code, e.message))?;
    if !seen.insert(path.clone()) {
        return Err(Rejected::new(
            path.as_str(),
            "duplicate_path",
            "the same file appears twice in this request",
        ));
    }
    Ok(path)
}

/// Validates push/confirm entries: the good ones in order, and the refused ones.
pub fn parse_entries(
    entries: Vec<FileEntry>,
    max_file_bytes: u64,
) -> (Vec<NewVersion>, Vec<Rejected>) {
    let mut seen = HashSet::new();
    let mut good = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for entry in entries {
        let path = match parse_path(&entry.path, &mut seen) {
            Ok(p) => p,
            Err(r) => {
                rejected.push(r);
                continue;
            }
        };
        let content_hash = match ContentHash::parse(&entry.content_hash) {
            Ok(h) => h,
            Err(e) => {
                rejected.push(Rejected::new(path.as_str(), e.code, e.message));
                continue;
            }
        };
        if entry.base_version < 0 {
            rejected.push(Rejected::new(
                path.as_str(),
                "invalid_base_version",
                "base_version must be 0 or more",
            ));
            continue;
        }
        if entry.size_bytes < 0 || entry.size_bytes as u64 > max_file_bytes {
            rejected.push(Rejected::new(
                path.as_str(),
                "invalid_size",
                format!("size_bytes must be between 0 and {max_file_bytes}"),
            ));
            continue;
        }
        good.push(NewVersion {
            path,
            base_version: entry.base_version,
            content_hash,
            size_bytes: entry.size_bytes,
        });
    }
    (good, rejected)
}

pub fn case_conflict(path: &VaultPath, existing: &VaultPath) -> Rejected {
    Rejected::new(
        path.as_str(),
        "case_conflict",
        format!("{existing} already exists and differs only by letter case"),
    )
}

pub fn quota_exceeded(path: &VaultPath, quota: u64) -> Rejected {
    Rejected::new(
        path.as_str(),
        "quota_exceeded",
        format!("the vault would exceed its quota of {quota} bytes"),
    )
}

/// The notice `confirm` and `delete` queue for the notifier.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeNotice {
    pub user_id: UserId,
    pub origin_device_id: Option<DeviceId>,
    pub cursor: Cursor,
    /// Left out when the list would make the message too big: devices then sync fully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<VaultPath>>,
}

/// SQS allows 256 KiB a message; stay well below.
const MAX_NOTICE_BYTES: usize = 128 * 1024;

/// Queues a change notice. A failure is logged, never returned: the versions are committed,
/// and devices also sync on launch and on a timer.
pub async fn notify(state: &AppState, caller: &Caller, cursor: Cursor, paths: Vec<VaultPath>) {
    if paths.is_empty() {
        return;
    }
    let mut notice = ChangeNotice {
        user_id: caller.user_id,
        origin_device_id: caller.device_id,
        cursor,
        paths: Some(paths),
    };
    let mut body = serde_json::to_string(&notice).unwrap_or_default();
    if body.len() > MAX_NOTICE_BYTES {
        notice.paths = None;
        body = serde_json::to_string(&notice).unwrap_or_default();
    }
    let result = async {
        let queue_url = state
            .config
            .require_sqs_queue_url()
            .map_err(ApiError::internal)?;
        state
            .sqs()?
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| ApiError::internal(anyhow::Error::new(e)))?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(err) = result {
        tracing::error!(user_id = %caller.user_id, %cursor, error = %err, "change notice not queued");
    }
}
