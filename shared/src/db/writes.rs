//! Committing versions and tombstones: load and lock, ask [`crate::vault::rules`], write.
//!
//! Every write runs in one transaction that first locks the user's row and then advances
//! `users.change_seq`. The lock is held until commit, so a user's writers are serialised and
//! commit in sequence order: a reader that has seen cursor `c` can never later find a
//! committed change below `c`. A batch issues a fixed number of statements, whatever the
//! number of files.

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};

use crate::db::files::{FILE_COLUMNS, FileState, live_keys};
use crate::domain::{ContentHash, Cursor, DeviceId, UserId, VaultPath, Version};
use crate::error::{ApiError, ErrorCode};
use crate::vault::recovery::{MassDelete, MassDeletePolicy};
use crate::vault::rules::{self, Content, Decision, DeleteDecision, Proposal, Room};

/// Why a write did not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The user's row is gone: the account was deleted while the request ran.
    #[error("the user no longer exists")]
    UserGone,
    /// The delete looks like an accident (see [`crate::vault::recovery::is_held`]); nothing was written.
    #[error("mass delete held: {0:?}")]
    MassDeleteHeld(MassDelete),
    /// These blobs were collected by the janitor after confirm read them as verified;
    /// nothing was written (confirm answers them `not_uploaded` and commits the rest).
    #[error("blobs collected meanwhile: {0:?}")]
    BlobsGone(Vec<ContentHash>),
    /// The account's mode is not the request's (it became encrypted meanwhile); nothing was
    /// written. `true`: the account is encrypted.
    #[error("the account's mode changed")]
    ModeChanged(bool),
    /// A rewind's `resume` that no page of this rewind answered.
    #[error("resume is not one this rewind answered")]
    InvalidResume,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        match err {
            // The token's account is gone: the same answer a later request would get.
            WriteError::UserGone => ApiError::unauthorized(ErrorCode::InvalidToken),
            WriteError::MassDeleteHeld(numbers) => ApiError::held(
                ErrorCode::MassDeleteHeld,
                format!(
                    "this would delete {} notes, {} more in the last hour, of {} live: held as a \
                     likely accident (an emptied or missing folder); nothing was deleted. Send \
                     the request again with \"confirm_mass_delete\": true to delete them",
                    numbers.requested, numbers.deleted_last_hour, numbers.live
                ),
                serde_json::to_value(numbers).unwrap_or_default(),
            ),
            WriteError::BlobsGone(_) => {
                ApiError::internal(anyhow::anyhow!("blobs collected during confirm"))
            }
            WriteError::ModeChanged(true) => ApiError::conflict(
                ErrorCode::VaultEncrypted,
                "this account became end-to-end encrypted: nothing was written",
            ),
            WriteError::ModeChanged(false) => ApiError::conflict(
                ErrorCode::VaultNotEncrypted,
                "this account is not end-to-end encrypted: nothing was written",
            ),
            WriteError::InvalidResume => ApiError::bad_request(
                ErrorCode::InvalidCursor,
                "resume is not one a rewind answered (send the same as_of it came with)",
            ),
            WriteError::Database(e) => e.into(),
        }
    }
}

/// What a batch did to one file: the rules' decision, and the server's row afterwards (the
/// row written, or the row as it was; `None` when the path has no row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome<D> {
    pub decision: D,
    pub row: Option<FileState>,
}

/// A batch's outcomes in request order, and the user's cursor after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch<D> {
    pub outcomes: Vec<Outcome<D>>,
    pub cursor: Cursor,
}

/// Locks the user's row for the rest of the transaction; returns (change_seq, vault_size,
/// compacted_version).
pub(crate) async fn lock_user(
    conn: &mut PgConnection,
    user_id: UserId,
) -> Result<(i64, i64, i64), WriteError> {
    super::query_as(
        "SELECT change_seq, vault_size, compacted_version FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?
    .ok_or(WriteError::UserGone)
}

/// Locks the `blobs` rows of the proposals' hashes (shared, until commit: the janitor's
/// collection locks them exclusively) and answers the hashes whose row is gone.
async fn lock_blobs(
    conn: &mut PgConnection,
    user_id: UserId,
    proposals: &[Proposal],
) -> Result<Vec<ContentHash>, sqlx::Error> {
    let mut wanted: Vec<String> = proposals.iter().map(|p| p.content.hash.to_hex()).collect();
    wanted.sort();
    wanted.dedup();
    let present: Vec<String> = super::query_scalar(
        "SELECT content_hash FROM blobs
         WHERE user_id = $1 AND content_hash = ANY($2::TEXT[])
         ORDER BY content_hash FOR SHARE",
    )
    .bind(user_id)
    .bind(&wanted)
    .fetch_all(&mut *conn)
    .await?;
    Ok(wanted
        .into_iter()
        .filter(|h| !present.contains(h))
        .filter_map(|h| ContentHash::parse(&h).ok())
        .collect())
}

pub(crate) async fn lock_files(
    conn: &mut PgConnection,
    user_id: UserId,
    paths: &[&VaultPath],
) -> Result<HashMap<VaultPath, FileState>, sqlx::Error> {
    let names: Vec<&str> = paths.iter().map(|p| p.as_str()).collect();
    let rows: Vec<FileState> = super::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND path = ANY($2::TEXT[]) FOR UPDATE"
    ))
    .bind(user_id)
    .bind(&names)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.path.clone(), r)).collect())
}

/// Where a new version's sealed fields (encrypted accounts) come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sealing<'a> {
    /// Given by the device (confirm).
    Given(&'a SealedWrite),
    /// Copied from this version of the same note (tombstone, restore, rewind): NULL for a
    /// plaintext note, whose versions have none.
    CopyFrom(i64),
}

/// The sealed fields a device sends with a version of an encrypted note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedWrite {
    pub sealed_path: Vec<u8>,
    pub sealed_manifest: Vec<u8>,
    /// The version the manifest was sealed as: the commit must give the note this version.
    pub manifest_version: i64,
    pub blob_id: String,
}

/// Rows to write: new file_state values (also appended to file_versions).
#[derive(Default)]
pub(crate) struct Writes {
    sealed_paths: Vec<Option<Vec<u8>>>,
    sealed_manifests: Vec<Option<Vec<u8>>>,
    manifest_versions: Vec<Option<i64>>,
    blob_ids: Vec<Option<String>>,
    copy_from: Vec<Option<i64>>,
    paths: Vec<String>,
    keys: Vec<String>,
    versions: Vec<i64>,
    hashes: Vec<String>,
    sizes: Vec<i64>,
    deleted: Vec<bool>,
    seqs: Vec<i64>,
    size_delta: i64,
    pub(crate) seq: i64,
}

impl Writes {
    pub(crate) fn starting_at(seq: i64) -> Self {
        Writes {
            seq,
            ..Writes::default()
        }
    }

    /// Queues one row, taking the next change sequence value.
    pub(crate) fn push(
        &mut self,
        path: &VaultPath,
        version: Version,
        content: Content,
        deleted: bool,
        size_delta: i64,
        sealing: Option<Sealing<'_>>,
    ) {
        let given = match sealing {
            Some(Sealing::Given(w)) => Some(w),
            _ => None,
        };
        self.sealed_paths.push(given.map(|w| w.sealed_path.clone()));
        self.sealed_manifests
            .push(given.map(|w| w.sealed_manifest.clone()));
        self.manifest_versions
            .push(given.map(|w| w.manifest_version));
        self.blob_ids.push(given.map(|w| w.blob_id.clone()));
        self.copy_from.push(match sealing {
            Some(Sealing::CopyFrom(v)) => Some(v),
            _ => None,
        });
        self.seq += 1;
        self.size_delta += size_delta;
        self.paths.push(path.to_string());
        self.keys.push(path.case_key());
        self.versions.push(version.get());
        self.hashes.push(content.hash.to_hex());
        self.sizes.push(content.size);
        self.deleted.push(deleted);
        self.seqs.push(self.seq);
    }

    /// Upserts every row, appends each to the history, advances the user's cursor, vault
    /// size and live-note count, and commits: two statements, whatever the number of rows. Rows are stamped
    /// with the time of the write statement, which runs after the user's row lock: a user's
    /// versions are stamped in the order they commit, so "the state at a moment" (rewind)
    /// is a cut through the change sequence.
    pub(crate) async fn commit(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        user_id: UserId,
        device_id: Option<DeviceId>,
    ) -> Result<HashMap<VaultPath, FileState>, sqlx::Error> {
        if self.paths.is_empty() {
            tx.commit().await?;
            return Ok(HashMap::new());
        }
        let rows: Vec<FileState> = super::query_as(&format!(
            "WITH input AS (
                 SELECT * FROM UNNEST($3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::TEXT[],
                                      $7::BIGINT[], $8::BOOLEAN[], $9::BIGINT[])
                     AS t(path, path_key, version, content_hash, size_bytes, is_deleted, change_seq)
             ),
             sealing AS (
                 SELECT * FROM UNNEST($3::TEXT[], $12::BYTEA[], $13::BYTEA[], $14::BIGINT[],
                                      $15::TEXT[], $16::BIGINT[])
                     AS t(path, sealed_path, sealed_manifest, manifest_version, blob_id, copy_from)
             ),
             written AS (
                 INSERT INTO file_state AS f
                     (user_id, path, path_key, version, content_hash, size_bytes, is_deleted,
                      deleted_at, updated_at, updated_by, change_seq)
                 SELECT $1, path, path_key, version, content_hash, size_bytes, is_deleted,
                        CASE WHEN is_deleted THEN statement_timestamp() END,
                        statement_timestamp(), $2, change_seq
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
                      change_seq, created_at,
                      sealed_path, sealed_manifest, manifest_version, blob_id)
                 SELECT $1, w.path, w.version, w.content_hash, w.size_bytes, w.is_deleted,
                        w.updated_by, w.change_seq, w.updated_at,
                        COALESCE(s.sealed_path, src.sealed_path),
                        COALESCE(s.sealed_manifest, src.sealed_manifest),
                        COALESCE(s.manifest_version, src.manifest_version),
                        COALESCE(s.blob_id, src.blob_id)
                 FROM written w
                 JOIN sealing s ON s.path = w.path
                 LEFT JOIN file_versions src
                     ON src.user_id = $1 AND src.path = w.path AND src.version = s.copy_from
             ),
             -- Every CTE reads the rows as they were before this statement: the live notes
             -- among the paths before, against the live ones written.
             counts AS (
                 UPDATE users SET change_seq = $10,
                     vault_size = GREATEST(vault_size + $11, 0),
                     file_count = GREATEST(file_count
                         + (SELECT count(*) FROM input WHERE NOT is_deleted)
                         - (SELECT count(*) FROM file_state
                            WHERE user_id = $1 AND path = ANY($3::TEXT[]) AND NOT is_deleted), 0)
                 WHERE id = $1
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
        .bind(self.seq)
        .bind(self.size_delta)
        .bind(&self.sealed_paths)
        .bind(&self.sealed_manifests)
        .bind(&self.manifest_versions)
        .bind(&self.blob_ids)
        .bind(&self.copy_from)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(|r| (r.path.clone(), r)).collect())
    }
}

/// Pairs each decision with the row after the commit: the written one where there is one.
pub(crate) fn outcomes<D>(
    decisions: Vec<D>,
    paths: impl Iterator<Item = VaultPath>,
    mut before: HashMap<VaultPath, FileState>,
    mut written: HashMap<VaultPath, FileState>,
) -> Vec<Outcome<D>> {
    decisions
        .into_iter()
        .zip(paths)
        .map(|(decision, path)| Outcome {
            row: written.remove(&path).or_else(|| before.remove(&path)),
            decision,
        })
        .collect()
}

/// Commits every proposal the rules allow, in one transaction with a fixed number of
/// statements. Paths must be distinct. `quota`: the most the vault may hold.
pub async fn commit_versions(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    proposals: &[Proposal],
    quota: u64,
) -> Result<Batch<Decision>, WriteError> {
    commit_sealed_versions(pool, user_id, device_id, proposals, None, quota).await
}

/// [`commit_versions`], for an encrypted account when `sealed` is given: each proposal's
/// sealed fields are in it (by path key). A write whose version would not be the one its
/// manifest was sealed as (the vault moved since push) is a conflict, and nothing is written
/// for it. The account's mode is read again under its row lock: a request of the other
/// mode (the account became encrypted since it was checked) writes nothing.
pub async fn commit_sealed_versions(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    proposals: &[Proposal],
    sealed: Option<&HashMap<VaultPath, SealedWrite>>,
    quota: u64,
) -> Result<Batch<Decision>, WriteError> {
    let mut tx = pool.begin().await?;
    let (seq, vault_size, compacted_version) = lock_user(&mut tx, user_id).await?;
    let encrypted: bool = super::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM vault_keys WHERE user_id = $1 AND NOT migrating)",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    if !proposals.is_empty() && encrypted != sealed.is_some() {
        return Err(WriteError::ModeChanged(encrypted));
    }
    let none = HashMap::new();
    let sealed = sealed.unwrap_or(&none);
    let gone = lock_blobs(&mut tx, user_id, proposals).await?;
    if !gone.is_empty() {
        return Err(WriteError::BlobsGone(gone));
    }
    let paths: Vec<&VaultPath> = proposals.iter().map(|p| &p.path).collect();
    let current = lock_files(&mut tx, user_id, &paths).await?;
    let live = live_keys(&mut tx, user_id, &paths).await?;
    let mut decisions = rules::decide_writes(
        proposals,
        &current,
        &live,
        device_id,
        Room::new(vault_size, quota).above_compacted(compacted_version),
    );
    let mut writes = Writes::starting_at(seq);
    for (p, decision) in proposals.iter().zip(decisions.iter_mut()) {
        if let Decision::Write {
            version,
            size_delta,
        } = *decision
        {
            let given = sealed.get(&p.path);
            *decision = crate::vault::sealed::check_sealed_version(
                decision.clone(),
                given.map(|w| w.manifest_version),
            );
            if *decision == Decision::Conflict {
                continue;
            }
            let (hash, size) = (&p.content.hash, p.content.size);
            writes.push(
                &p.path,
                version,
                Content { hash: *hash, size },
                false,
                size_delta,
                given.map(Sealing::Given),
            );
        }
    }
    let written = writes.commit(tx, user_id, device_id).await?;
    Ok(Batch {
        outcomes: outcomes(
            decisions,
            proposals.iter().map(|p| p.path.clone()),
            current,
            written,
        ),
        cursor: Cursor::from_seq(writes.seq),
    })
}

/// Writes a tombstone for every file the rules allow, in one transaction with a fixed
/// number of statements. Paths must be distinct. With a `guard`, a delete that would make a
/// mass deletion (counted with the last hour's tombstones, under the user's lock, so small
/// batches cannot slip past) writes nothing and is refused.
pub async fn delete_files(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    deletes: &[(VaultPath, Version)],
    guard: Option<MassDeletePolicy>,
) -> Result<Batch<DeleteDecision>, WriteError> {
    let mut tx = pool.begin().await?;
    let (seq, _, _) = lock_user(&mut tx, user_id).await?;
    let paths: Vec<&VaultPath> = deletes.iter().map(|(p, _)| p).collect();
    let current = lock_files(&mut tx, user_id, &paths).await?;
    let decisions = rules::decide_deletes(deletes, &current);
    let requested = decisions
        .iter()
        .filter(|d| matches!(d, DeleteDecision::Tombstone { .. }))
        .count();
    if let Some(policy) = guard.filter(|_| requested > 0) {
        let hour_ago = chrono::Utc::now() - chrono::TimeDelta::hours(1);
        let (recent, live) =
            crate::db::history::deletion_counts(&mut tx, user_id, hour_ago).await?;
        let numbers = MassDelete {
            deleted_last_hour: u64::try_from(recent).unwrap_or(0),
            requested: u64::try_from(requested).unwrap_or(u64::MAX),
            live: u64::try_from(live).unwrap_or(0),
        };
        if crate::vault::recovery::is_held(&numbers, policy) {
            return Err(WriteError::MassDeleteHeld(numbers));
        }
    }
    let mut writes = Writes::starting_at(seq);
    for ((path, _), decision) in deletes.iter().zip(&decisions) {
        if let (
            DeleteDecision::Tombstone {
                version,
                size_delta,
            },
            Some(row),
        ) = (decision, current.get(path))
        {
            // The tombstone keeps the hash and size of what it deleted.
            let (hash, size) = (&row.content_hash, row.size_bytes);
            let from = Sealing::CopyFrom(row.version);
            writes.push(
                path,
                *version,
                Content { hash: *hash, size },
                true,
                *size_delta,
                Some(from),
            );
        }
    }
    let written = writes.commit(tx, user_id, device_id).await?;
    Ok(Batch {
        outcomes: outcomes(
            decisions,
            deletes.iter().map(|(p, _)| p.clone()),
            current,
            written,
        ),
        cursor: Cursor::from_seq(writes.seq),
    })
}
