//! Reading per-file sync state: the current version of every path, its history, and the
//! change sequence that orders a user's changes. Writes are in [`super::writes`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool, Row};

use crate::domain::{ContentHash, Cursor, UserId, VaultPath};

pub use crate::vault::rules::FileState;

// The rules own the row type; the database maps its columns into it (FILE_COLUMNS).
impl<'r> FromRow<'r, PgRow> for FileState {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let text = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
        let decode = |column: &str, err: crate::domain::ParseError| sqlx::Error::ColumnDecode {
            index: column.to_owned(),
            source: Box::new(err),
        };
        Ok(FileState {
            path: VaultPath::parse(&text("path")?).map_err(|e| decode("path", e))?,
            version: row.try_get("version")?,
            content_hash: ContentHash::parse(&text("content_hash")?)
                .map_err(|e| decode("content_hash", e))?,
            size_bytes: row.try_get("size_bytes")?,
            is_deleted: row.try_get("is_deleted")?,
            deleted_at: row.try_get("deleted_at")?,
            updated_at: row.try_get("updated_at")?,
            updated_by: row.try_get("updated_by")?,
            change_seq: row.try_get("change_seq")?,
        })
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

pub(crate) const FILE_COLUMNS: &str = "path, version, content_hash, size_bytes, is_deleted, \
     deleted_at, updated_at, updated_by, change_seq";

/// The newest cursor of the user: every committed change is at or below it.
pub async fn current_cursor(pool: &PgPool, user_id: UserId) -> Result<Option<Cursor>, sqlx::Error> {
    Ok(vault_head(pool, user_id).await?.map(|h| h.cursor))
}

/// The user's cursor and how far tombstones were compacted (see [`VaultHead`]).
pub async fn vault_head(pool: &PgPool, user_id: UserId) -> Result<Option<VaultHead>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let row: Option<(i64, i64, Option<DateTime<Utc>>)> = super::query_as(
        "SELECT change_seq, compacted_seq, compacted_until FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *one)
    .await?;
    one.done().await?;
    Ok(row.map(|(seq, compacted, until)| VaultHead {
        cursor: Cursor::from_seq(seq),
        compacted: Cursor::from_seq(compacted),
        compacted_until: until,
    }))
}

/// Where a user's change feed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultHead {
    /// The latest change.
    pub cursor: Cursor,
    /// The latest change whose tombstone was compacted away: a cursor below it may have
    /// missed a delete that no longer shows.
    pub compacted: Cursor,
    /// The newest deletion time among the compacted tombstones: the same for `since`.
    pub compacted_until: Option<DateTime<Utc>>,
}

/// The current rows of `paths` (absent paths are left out), in one query.
pub async fn get_files(
    pool: &PgPool,
    user_id: UserId,
    paths: &[&VaultPath],
) -> Result<HashMap<VaultPath, FileState>, sqlx::Error> {
    let names: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
    let mut one = super::single(pool).await?;
    let rows: Vec<FileState> = super::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state WHERE user_id = $1 AND path = ANY($2::TEXT[])"
    ))
    .bind(user_id)
    .bind(&names)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(rows.into_iter().map(|r| (r.path.clone(), r)).collect())
}

/// The live paths that share a case key with one of `paths`: case key → live path (which
/// may be the path itself).
pub async fn live_keys(
    conn: &mut PgConnection,
    user_id: UserId,
    paths: &[&VaultPath],
) -> Result<HashMap<String, VaultPath>, sqlx::Error> {
    let keys: Vec<String> = paths.iter().map(|p| p.case_key()).collect();
    let rows: Vec<(String, String)> = super::query_as(
        "SELECT path_key, path FROM file_state
         WHERE user_id = $1 AND NOT is_deleted AND path_key = ANY($2::TEXT[])",
    )
    .bind(user_id)
    .bind(&keys)
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::new();
    for (key, path) in rows {
        if let Ok(path) = VaultPath::parse(&path) {
            out.insert(key, path);
        }
    }
    Ok(out)
}

/// Files (tombstones included) changed after `cursor`, oldest change first, at most `limit`.
pub async fn get_vault_state(
    pool: &PgPool,
    user_id: UserId,
    cursor: Cursor,
    limit: u32,
) -> Result<ChangePage, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let files: Vec<FileState> = super::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND change_seq > $2
         ORDER BY change_seq
         LIMIT $3"
    ))
    .bind(user_id)
    .bind(cursor.seq())
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(page(files, cursor, limit))
}

/// Files changed after the instant `since`, in cursor order: the seed's timestamp contract,
/// kept for old clients. Clock-based, so a change committed late with an earlier timestamp
/// can be missed; the returned cursor lets the client switch to cursors from here on.
pub async fn get_changed_since_time(
    pool: &PgPool,
    user_id: UserId,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<ChangePage, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let files: Vec<FileState> = super::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND updated_at > $2
         ORDER BY change_seq
         LIMIT $3"
    ))
    .bind(user_id)
    .bind(since)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(page(files, Cursor::START, limit))
}

fn page(mut files: Vec<FileState>, cursor: Cursor, limit: u32) -> ChangePage {
    let has_more = files.len() > limit as usize;
    files.truncate(limit as usize);
    let cursor = files.last().map_or(cursor, FileState::cursor);
    ChangePage {
        files,
        cursor,
        has_more,
    }
}

/// A past version as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastVersion {
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
}

/// Past versions by (path, version), in one query; unknown ones are left out. (`pull`
/// reads them from the pool; a restore inside its transaction.)
pub async fn get_versions<'e>(
    db: impl sqlx::PgExecutor<'e>,
    user_id: UserId,
    wanted: &[(VaultPath, i64)],
) -> Result<HashMap<(VaultPath, i64), PastVersion>, sqlx::Error> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let paths: Vec<&str> = wanted.iter().map(|(p, _)| p.as_str()).collect();
    let versions: Vec<i64> = wanted.iter().map(|(_, v)| *v).collect();
    let rows: Vec<(String, i64, String, i64, bool)> = super::query_as(
        "SELECT v.path, v.version, v.content_hash, v.size_bytes, v.is_deleted
         FROM file_versions v
         JOIN UNNEST($2::TEXT[], $3::BIGINT[]) AS w(path, version)
           ON v.path = w.path AND v.version = w.version
         WHERE v.user_id = $1",
    )
    .bind(user_id)
    .bind(&paths)
    .bind(&versions)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(path, version, hash, size_bytes, is_deleted)| {
            Some((
                (VaultPath::parse(&path).ok()?, version),
                PastVersion {
                    content_hash: ContentHash::parse(&hash).ok()?,
                    size_bytes,
                    is_deleted,
                },
            ))
        })
        .collect())
}
