//! Per-file sync state: the current version of every path, its history, and the change
//! sequence that orders a user's changes.
//!
//! Every write runs in one transaction that first locks the user's row and then advances
//! `users.change_seq`. The lock is held until commit, so a user's writers are serialised and
//! commit in sequence order: a reader that has seen cursor `c` can never later find a
//! committed change below `c`. Batch writes issue a fixed number of statements, whatever the
//! number of files.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

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

    /// Bytes this row counts against the quota.
    pub fn live_size(&self) -> i64 {
        if self.is_deleted { 0 } else { self.size_bytes }
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

/// A new version a device wants to commit on top of `base_version` (0: a new file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    pub path: VaultPath,
    pub base_version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
}

/// What committing one [`NewVersion`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// A new version was committed; the row as it now is.
    Committed(FileState),
    /// This device already committed exactly this (a retried confirm): nothing changed.
    AlreadyCommitted(FileState),
    /// The server is not at `base_version`: nothing changed. `current` is the server's row
    /// (`None`: the path does not exist although the caller expected it to).
    Conflict { current: Option<FileState> },
    /// Another live path differs from this one only by letter case.
    CaseConflict { existing: VaultPath },
    /// The vault would grow past the quota.
    QuotaExceeded,
}

/// A tombstone a device wants to write on top of `base_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub path: VaultPath,
    pub base_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted(FileState),
    /// Already a tombstone: deleting is idempotent, nothing changed.
    AlreadyDeleted(FileState),
    /// A device that never saw the latest version cannot delete it.
    Conflict {
        current: FileState,
    },
    NotFound,
}

pub(crate) const FILE_COLUMNS: &str = "path, version, content_hash, size_bytes, is_deleted, \
     deleted_at, updated_at, updated_by, change_seq";

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

/// The current rows of `paths` (absent paths are left out), in one query.
pub async fn get_files(
    pool: &PgPool,
    user_id: UserId,
    paths: &[VaultPath],
) -> Result<HashMap<VaultPath, FileState>, sqlx::Error> {
    let names: Vec<&str> = paths.iter().map(VaultPath::as_str).collect();
    let rows: Vec<FileState> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state WHERE user_id = $1 AND path = ANY($2::TEXT[])"
    ))
    .bind(user_id)
    .bind(&names)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.path.clone(), r)).collect())
}

/// Live paths that collide by letter case with one of `paths` (but are not that path):
/// case key → existing path.
pub async fn case_collisions(
    conn: &mut PgConnection,
    user_id: UserId,
    paths: &[VaultPath],
) -> Result<HashMap<String, VaultPath>, sqlx::Error> {
    let keys: Vec<String> = paths.iter().map(VaultPath::case_key).collect();
    let rows: Vec<(String, String)> = sqlx::query_as(
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
    let files: Vec<FileState> = sqlx::query_as(&format!(
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
    let files: Vec<FileState> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND updated_at > $2
         ORDER BY change_seq
         LIMIT $3"
    ))
    .bind(user_id)
    .bind(since)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
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

/// Locks the user's row for the rest of the transaction; returns (change_seq, vault_size).
async fn lock_user(conn: &mut PgConnection, user_id: UserId) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as("SELECT change_seq, vault_size FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_one(conn)
        .await
}

async fn lock_files(
    conn: &mut PgConnection,
    user_id: UserId,
    paths: &[&str],
) -> Result<HashMap<String, FileState>, sqlx::Error> {
    let rows: Vec<FileState> = sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND path = ANY($2::TEXT[]) FOR UPDATE"
    ))
    .bind(user_id)
    .bind(paths)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.path.to_string(), r)).collect())
}

/// Rows to write: new file_state values (also appended to file_versions).
#[derive(Default)]
struct Writes {
    paths: Vec<String>,
    keys: Vec<String>,
    versions: Vec<i64>,
    hashes: Vec<String>,
    sizes: Vec<i64>,
    deleted: Vec<bool>,
    seqs: Vec<i64>,
}

impl Writes {
    fn push(
        &mut self,
        path: &VaultPath,
        version: i64,
        hash: &ContentHash,
        size: i64,
        deleted: bool,
        seq: i64,
    ) {
        self.paths.push(path.to_string());
        self.keys.push(path.case_key());
        self.versions.push(version);
        self.hashes.push(hash.to_hex());
        self.sizes.push(size);
        self.deleted.push(deleted);
        self.seqs.push(seq);
    }

    /// One statement: upsert every row and append each to the history.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        user_id: UserId,
        device_id: Option<DeviceId>,
    ) -> Result<HashMap<String, FileState>, sqlx::Error> {
        if self.paths.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<FileState> = sqlx::query_as(&format!(
            "WITH input AS (
                 SELECT * FROM UNNEST($3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::TEXT[],
                                      $7::BIGINT[], $8::BOOLEAN[], $9::BIGINT[])
                     AS t(path, path_key, version, content_hash, size_bytes, is_deleted, change_seq)
             ),
             written AS (
                 INSERT INTO file_state AS f
                     (user_id, path, path_key, version, content_hash, size_bytes, is_deleted,
                      deleted_at, updated_at, updated_by, change_seq)
                 SELECT $1, path, path_key, version, content_hash, size_bytes, is_deleted,
                        CASE WHEN is_deleted THEN now() END, now(), $2, change_seq
                 FROM input
                 ON CONFLICT (user_id, path) DO UPDATE SET
                     path_key = EXCLUDED.path_key, version = EXCLUDED.version,
                     content_hash = EXCLUDED.content_hash, size_bytes = EXCLUDED.size_bytes,
                     is_deleted = EXCLUDED.is_deleted, deleted_at = EXCLUDED.deleted_at,
                     updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by,
                     change_seq = EXCLUDED.change_seq
                 RETURNING {FILE_COLUMNS}
             ),
             history AS (
                 INSERT INTO file_versions
                     (user_id, path, version, content_hash, size_bytes, is_deleted, device_id,
                      change_seq, created_at)
                 SELECT $1, path, version, content_hash, size_bytes, is_deleted, updated_by,
                        change_seq, updated_at
                 FROM written
             )
             SELECT {FILE_COLUMNS} FROM written"
        ))
        .bind(user_id)
        .bind(device_id)
        .bind(&self.paths)
        .bind(&self.keys)
        .bind(&self.versions)
        .bind(&self.hashes)
        .bind(&self.sizes)
        .bind(&self.deleted)
        .bind(&self.seqs)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(|r| (r.path.to_string(), r)).collect())
    }
}

impl Writes {
    /// Applies the writes, advances the user's cursor to `change_seq` and vault size by
    /// `size_delta`, and commits. Returns the written rows by path.
    async fn commit(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        user_id: UserId,
        device_id: Option<DeviceId>,
        change_seq: i64,
        size_delta: i64,
    ) -> Result<HashMap<String, FileState>, sqlx::Error> {
        let written = self.apply(&mut tx, user_id, device_id).await?;
        if !written.is_empty() {
            sqlx::query(
                "UPDATE users SET change_seq = $2, vault_size = GREATEST(vault_size + $3, 0)
                 WHERE id = $1",
            )
            .bind(user_id)
            .bind(change_seq)
            .bind(size_delta)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(written)
    }
}

/// Completes a batch's outcomes: a `None` (a file that was written) becomes `wrap` of its
/// written row.
fn fill_written<'a, T>(
    outcomes: Vec<Option<T>>,
    paths: impl Iterator<Item = &'a VaultPath>,
    written: &HashMap<String, FileState>,
    wrap: impl Fn(FileState) -> T,
) -> Result<Vec<T>, sqlx::Error> {
    outcomes
        .into_iter()
        .zip(paths)
        .map(|(outcome, path)| match outcome {
            Some(done) => Ok(done),
            None => written
                .get(path.as_str())
                .cloned()
                .map(&wrap)
                .ok_or_else(|| sqlx::Error::Protocol(format!("{path} was not written back"))),
        })
        .collect()
}

/// Commits every version whose base is still the server's, in one transaction with a
/// fixed number of statements. Outcomes come back in input order, with the user's cursor
/// after the commit. Paths must be distinct. `quota`: the most the vault may hold.
pub async fn commit_versions(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    files: &[NewVersion],
    quota: Option<i64>,
) -> Result<(Vec<CommitOutcome>, Cursor), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (mut seq, vault_size) = lock_user(&mut tx, user_id).await?;
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let current = lock_files(&mut tx, user_id, &names).await?;
    let paths: Vec<VaultPath> = files.iter().map(|f| f.path.clone()).collect();
    let collisions = case_collisions(&mut tx, user_id, &paths).await?;

    let mut outcomes = Vec::with_capacity(files.len());
    let mut writes = Writes::default();
    let mut size_delta = 0i64;
    for file in files {
        let row = current.get(file.path.as_str());
        if let Some(existing) = collisions
            .get(&file.path.case_key())
            .filter(|p| **p != file.path)
        {
            outcomes.push(Some(CommitOutcome::CaseConflict {
                existing: existing.clone(),
            }));
            continue;
        }
        match row {
            Some(r)
                if r.version == file.base_version + 1
                    && !r.is_deleted
                    && r.content_hash == file.content_hash
                    && r.updated_by == device_id =>
            {
                outcomes.push(Some(CommitOutcome::AlreadyCommitted(r.clone())));
                continue;
            }
            Some(r) if r.version == file.base_version => {}
            None if file.base_version == 0 => {}
            _ => {
                outcomes.push(Some(CommitOutcome::Conflict {
                    current: row.cloned(),
                }));
                continue;
            }
        }
        let delta = file.size_bytes - row.map_or(0, FileState::live_size);
        if quota.is_some_and(|q| delta > 0 && vault_size + size_delta + delta > q) {
            outcomes.push(Some(CommitOutcome::QuotaExceeded));
            continue;
        }
        size_delta += delta;
        seq += 1;
        writes.push(
            &file.path,
            file.base_version + 1,
            &file.content_hash,
            file.size_bytes,
            false,
            seq,
        );
        outcomes.push(None); // written below
    }
    let written = writes
        .commit(tx, user_id, device_id, seq, size_delta)
        .await?;
    let outcomes = fill_written(
        outcomes,
        files.iter().map(|f| &f.path),
        &written,
        CommitOutcome::Committed,
    )?;
    Ok((outcomes, Cursor::from_seq(seq)))
}

/// Writes a tombstone for every file whose base is still the server's, in one transaction
/// with a fixed number of statements. Paths must be distinct.
pub async fn delete_files(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    files: &[Tombstone],
) -> Result<(Vec<DeleteOutcome>, Cursor), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (mut seq, _) = lock_user(&mut tx, user_id).await?;
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let current = lock_files(&mut tx, user_id, &names).await?;
    let mut outcomes = Vec::with_capacity(files.len());
    let mut writes = Writes::default();
    let mut size_delta = 0i64;
    for file in files {
        match current.get(file.path.as_str()) {
            None => outcomes.push(Some(DeleteOutcome::NotFound)),
            Some(r) if r.is_deleted => {
                outcomes.push(Some(DeleteOutcome::AlreadyDeleted(r.clone())))
            }
            Some(r) if r.version != file.base_version => {
                outcomes.push(Some(DeleteOutcome::Conflict { current: r.clone() }))
            }
            Some(r) => {
                seq += 1;
                size_delta -= r.size_bytes;
                // The tombstone keeps the hash and size of what it deleted.
                writes.push(
                    &r.path,
                    r.version + 1,
                    &r.content_hash,
                    r.size_bytes,
                    true,
                    seq,
                );
                outcomes.push(None); // written below
            }
        }
    }
    let written = writes
        .commit(tx, user_id, device_id, seq, size_delta)
        .await?;
    let outcomes = fill_written(
        outcomes,
        files.iter().map(|f| &f.path),
        &written,
        DeleteOutcome::Deleted,
    )?;
    Ok((outcomes, Cursor::from_seq(seq)))
}

/// Commits one new version of `path` if the server is still at `base_version` (0: the file
/// must not exist). Pushing onto a tombstone with the tombstone's version revives the file.
pub async fn upsert_file_state(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
    content_hash: &ContentHash,
    size_bytes: i64,
) -> Result<CommitOutcome, sqlx::Error> {
    let file = NewVersion {
        path: path.clone(),
        base_version,
        content_hash: *content_hash,
        size_bytes,
    };
    let (mut outcomes, _) = commit_versions(pool, user_id, device_id, &[file], None).await?;
    Ok(outcomes.remove(0))
}

/// Writes a tombstone for `path` if the server is still at `base_version`.
pub async fn mark_file_deleted(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
) -> Result<DeleteOutcome, sqlx::Error> {
    let file = Tombstone {
        path: path.clone(),
        base_version,
    };
    let (mut outcomes, _) = delete_files(pool, user_id, device_id, &[file]).await?;
    Ok(outcomes.remove(0))
}

/// A past version as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastVersion {
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
}

/// Past versions by (path, version), in one query; unknown ones are left out.
pub async fn get_versions(
    pool: &PgPool,
    user_id: UserId,
    wanted: &[(VaultPath, i64)],
) -> Result<HashMap<(VaultPath, i64), PastVersion>, sqlx::Error> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let paths: Vec<&str> = wanted.iter().map(|(p, _)| p.as_str()).collect();
    let versions: Vec<i64> = wanted.iter().map(|(_, v)| *v).collect();
    let rows: Vec<(String, i64, String, i64, bool)> = sqlx::query_as(
        "SELECT v.path, v.version, v.content_hash, v.size_bytes, v.is_deleted
         FROM file_versions v
         JOIN UNNEST($2::TEXT[], $3::BIGINT[]) AS w(path, version)
           ON v.path = w.path AND v.version = w.version
         WHERE v.user_id = $1",
    )
    .bind(user_id)
    .bind(&paths)
    .bind(&versions)
    .fetch_all(pool)
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
