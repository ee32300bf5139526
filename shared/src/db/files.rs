//! Per-file sync state: the current version of every path, its history, and the change
//! sequence that orders a user's changes.
//!
//! Every write runs in one transaction that first bumps `users.change_seq`. That row lock is
//! held until commit, so a user's writers are serialised and commit in sequence order: a
//! reader that has seen cursor `c` can never later find a committed change below `c`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, Postgres, Transaction};

use crate::domain::{ContentHash, Cursor, DeviceId, UserId, VaultPath};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FileState {
    #[sqlx(try_from = "String")]
    pub path: VaultPath,
    pub version: i64,
    #[sqlx(try_from = "String")]
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<DeviceId>,
    pub change_seq: i64,
}

impl FileState {
    pub fn cursor(&self) -> Cursor {
        Cursor::from_seq(self.change_seq)
    }
}

/// One page of "what changed after a cursor", in cursor order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    pub files: Vec<FileState>,
    /// Where the next call starts: the last change in `files`, or the request's cursor.
    pub cursor: Cursor,
    pub has_more: bool,
}

/// What a version-checked write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A new version was committed; the row as it now is.
    Committed(FileState),
    /// The file was already deleted: a delete is idempotent, nothing changed.
    AlreadyDeleted(FileState),
    /// The caller's base version is not the server's: nothing changed. `current` is the
    /// server's row (`None`: the path does not exist although the caller expected it).
    Conflict { current: Option<FileState> },
}

const FILE_COLUMNS: &str = "path, version, content_hash, size_bytes, is_deleted, deleted_at, \
     updated_at, updated_by, change_seq";

/// Reserves `n` values of the user's change sequence and returns the last one. Takes the
/// user's row lock for the rest of the transaction.
pub(crate) async fn allocate_seq(
    tx: &mut Transaction<'_, Postgres>,
    user_id: UserId,
    n: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE users SET change_seq = change_seq + $2 WHERE id = $1 RETURNING change_seq",
    )
    .bind(user_id)
    .bind(n)
    .fetch_one(&mut **tx)
    .await
}

/// The newest cursor of the user: every committed change is at or below it.
pub async fn current_cursor(pool: &PgPool, user_id: UserId) -> Result<Option<Cursor>, sqlx::Error> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT change_seq FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    Ok(seq.map(Cursor::from_seq))
}

pub async fn get_file_version(
    pool: &PgPool,
    user_id: UserId,
    path: &VaultPath,
) -> Result<Option<FileState>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state WHERE user_id = $1 AND path = $2"
    ))
    .bind(user_id)
    .bind(path.as_str())
    .fetch_optional(pool)
    .await
}

/// Files (tombstones included) changed after `cursor`, oldest change first, at most `limit`.
pub async fn get_vault_state(
    pool: &PgPool,
    user_id: UserId,
    cursor: Cursor,
    limit: u32,
) -> Result<ChangePage, sqlx::Error> {
    let mut files: Vec<FileState> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND change_seq > $2
         ORDER BY change_seq
         LIMIT $3"
    ))
    .bind(user_id)
    .bind(cursor.seq())
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let has_more = files.len() > limit as usize;
    files.truncate(limit as usize);
    let cursor = files.last().map_or(cursor, FileState::cursor);
    Ok(ChangePage {
        files,
        cursor,
        has_more,
    })
}

/// Tombstones written after `cursor`, oldest first.
pub async fn get_deleted_since(
    pool: &PgPool,
    user_id: UserId,
    cursor: Cursor,
) -> Result<Vec<FileState>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND change_seq > $2 AND is_deleted
         ORDER BY change_seq"
    ))
    .bind(user_id)
    .bind(cursor.seq())
    .fetch_all(pool)
    .await
}

async fn lock_file(
    tx: &mut Transaction<'_, Postgres>,
    user_id: UserId,
    path: &VaultPath,
) -> Result<Option<FileState>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state WHERE user_id = $1 AND path = $2 FOR UPDATE"
    ))
    .bind(user_id)
    .bind(path.as_str())
    .fetch_optional(&mut **tx)
    .await
}

async fn record_version(
    tx: &mut Transaction<'_, Postgres>,
    user_id: UserId,
    row: &FileState,
    size_delta: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH history AS (
             INSERT INTO file_versions
                 (user_id, path, version, content_hash, size_bytes, is_deleted, device_id,
                  change_seq, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9))
         UPDATE users SET vault_size = vault_size + $10 WHERE id = $1",
    )
    .bind(user_id)
    .bind(row.path.as_str())
    .bind(row.version)
    .bind(row.content_hash.to_hex())
    .bind(row.size_bytes)
    .bind(row.is_deleted)
    .bind(row.updated_by)
    .bind(row.change_seq)
    .bind(row.updated_at)
    .bind(size_delta)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Commits a new version of `path` if the server is still at `base_version` (0: the file
/// must not exist). Pushing onto a tombstone with the tombstone's version revives the file.
pub async fn upsert_file_state(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
    content_hash: &ContentHash,
    size_bytes: i64,
) -> Result<WriteOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let seq = allocate_seq(&mut tx, user_id, 1).await?;
    let current = lock_file(&mut tx, user_id, path).await?;
    let live_size = match &current {
        None if base_version == 0 => 0,
        Some(row) if row.version == base_version => {
            if row.is_deleted {
                0
            } else {
                row.size_bytes
            }
        }
        _ => return Ok(WriteOutcome::Conflict { current }),
    };
    let row: FileState = sqlx::query_as(&format!(
        "INSERT INTO file_state
             (user_id, path, version, content_hash, size_bytes, is_deleted, deleted_at,
              updated_at, updated_by, change_seq)
         VALUES ($1, $2, $3 + 1, $4, $5, false, NULL, now(), $6, $7)
         ON CONFLICT (user_id, path) DO UPDATE SET
             version = EXCLUDED.version, content_hash = EXCLUDED.content_hash,
             size_bytes = EXCLUDED.size_bytes, is_deleted = false, deleted_at = NULL,
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by,
             change_seq = EXCLUDED.change_seq
         RETURNING {FILE_COLUMNS}"
    ))
    .bind(user_id)
    .bind(path.as_str())
    .bind(base_version)
    .bind(content_hash.to_hex())
    .bind(size_bytes)
    .bind(device_id)
    .bind(seq)
    .fetch_one(&mut *tx)
    .await?;
    record_version(&mut tx, user_id, &row, size_bytes - live_size).await?;
    tx.commit().await?;
    Ok(WriteOutcome::Committed(row))
}

/// Writes a tombstone for `path` if the server is still at `base_version`. A device that
/// never saw the latest edit cannot delete it; deleting a deleted file changes nothing.
pub async fn mark_file_deleted(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
) -> Result<WriteOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let seq = allocate_seq(&mut tx, user_id, 1).await?;
    let current = match lock_file(&mut tx, user_id, path).await? {
        Some(row) if row.is_deleted => return Ok(WriteOutcome::AlreadyDeleted(row)),
        Some(row) if row.version == base_version => row,
        other => return Ok(WriteOutcome::Conflict { current: other }),
    };
    let row: FileState = sqlx::query_as(&format!(
        "UPDATE file_state SET
             version = version + 1, is_deleted = true, deleted_at = now(), updated_at = now(),
             updated_by = $3, change_seq = $4
         WHERE user_id = $1 AND path = $2
         RETURNING {FILE_COLUMNS}"
    ))
    .bind(user_id)
    .bind(path.as_str())
    .bind(device_id)
    .bind(seq)
    .fetch_one(&mut *tx)
    .await?;
    record_version(&mut tx, user_id, &row, -current.size_bytes).await?;
    tx.commit().await?;
    Ok(WriteOutcome::Committed(row))
}
