//! The SQL of turning encryption on for a vault with notes (README "Turning encryption on
//! for an existing vault"): the account's mode, staging encrypted copies
//! (`migration_staged`), the switch and the abort. Each write runs in one transaction under
//! the user's row lock, which every plaintext write of notes takes too, so a plaintext edit
//! lands wholly before or wholly after a stage or the switch.

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};

use crate::domain::{ContentHash, DeviceId, UserId, VaultPath};
pub use crate::vault::migration::Mode;
use crate::vault::migration::{self as decide, Copy, Source, StageDecision, StagedCopy};

async fn mode_in(conn: &mut PgConnection, user_id: UserId) -> Result<Mode, sqlx::Error> {
    let migrating: Option<bool> =
        super::query_scalar("SELECT migrating FROM vault_keys WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    Ok(Mode::of(migrating))
}

/// Locks the user's row; false when the user is gone.
async fn lock_user(conn: &mut PgConnection, user_id: UserId) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        super::query_scalar("SELECT change_seq FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

/// Stages `copies` (distinct paths and path keys) while the account migrates: each one is
/// decided by [`decide::decide_stage`] on the rows read under the user's lock, and a
/// [`StageDecision::Stage`] one replaces any staged copy of the same note or path key.
/// `Err(mode)` when the account is not migrating (nothing written).
pub async fn stage(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    copies: &[StagedCopy],
    quota: u64,
) -> Result<Result<Vec<StageDecision>, Mode>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let mode = mode_in(&mut tx, user_id).await?;
    if mode != Mode::Migrating {
        return Ok(Err(mode));
    }
    let paths: Vec<&str> = copies.iter().map(|c| c.copy.path.as_str()).collect();
    let keys: Vec<&str> = copies.iter().map(|c| c.path_key.as_str()).collect();
    let hashes: Vec<String> = copies
        .iter()
        .map(|c| c.copy.content_hash.to_hex())
        .collect();
    let rows: Vec<(String, i64, bool)> = super::query_as(
        "SELECT path, version, is_deleted FROM file_state
         WHERE user_id = $1 AND path = ANY($2::TEXT[])",
    )
    .bind(user_id)
    .bind(&paths)
    .fetch_all(&mut *tx)
    .await?;
    let sources: HashMap<VaultPath, Source> = rows
        .into_iter()
        .filter_map(|(path, version, is_deleted)| {
            Some((
                VaultPath::parse(&path).ok()?,
                Source {
                    version,
                    is_deleted,
                },
            ))
        })
        .collect();
    // Shared locks until commit: the janitor's collection cannot take a blob in between
    // (and from then on the staged row keeps it).
    let blobs: Vec<(String, i64)> = super::query_as(
        "SELECT content_hash, size_bytes FROM blobs
         WHERE user_id = $1 AND content_hash = ANY($2::TEXT[])
         ORDER BY content_hash FOR SHARE",
    )
    .bind(user_id)
    .bind(&hashes)
    .fetch_all(&mut *tx)
    .await?;
    let verified: HashMap<ContentHash, i64> = blobs
        .into_iter()
        .filter_map(|(h, size)| Some((ContentHash::parse(&h).ok()?, size)))
        .collect();
    let others: i64 = super::query_scalar(
        "SELECT COALESCE(sum(size_bytes), 0)::BIGINT FROM migration_staged
         WHERE user_id = $1 AND NOT (source_path = ANY($2::TEXT[]) OR path_key = ANY($3::TEXT[]))",
    )
    .bind(user_id)
    .bind(&paths)
    .bind(&keys)
    .fetch_one(&mut *tx)
    .await?;
    let plain: Vec<Copy> = copies.iter().map(|c| c.copy.clone()).collect();
    let decisions = decide::decide_stage(&plain, &sources, &verified, others, quota);
    let kept: Vec<&StagedCopy> = copies
        .iter()
        .zip(&decisions)
        .filter(|(_, d)| **d == StageDecision::Stage)
        .map(|(c, _)| c)
        .collect();
    if !kept.is_empty() {
        let paths: Vec<&str> = kept.iter().map(|c| c.copy.path.as_str()).collect();
        let keys: Vec<&str> = kept.iter().map(|c| c.path_key.as_str()).collect();
        super::query(
            "DELETE FROM migration_staged
             WHERE user_id = $1 AND (source_path = ANY($2::TEXT[]) OR path_key = ANY($3::TEXT[]))",
        )
        .bind(user_id)
        .bind(&paths)
        .bind(&keys)
        .execute(&mut *tx)
        .await?;
        let versions: Vec<i64> = kept.iter().map(|c| c.copy.version).collect();
        let hashes: Vec<String> = kept.iter().map(|c| c.copy.content_hash.to_hex()).collect();
        let sizes: Vec<i64> = kept.iter().map(|c| c.copy.size).collect();
        let ids: Vec<&str> = kept.iter().map(|c| c.blob_id.as_str()).collect();
        let sealed_paths: Vec<&[u8]> = kept.iter().map(|c| c.sealed_path.as_slice()).collect();
        let manifests: Vec<&[u8]> = kept.iter().map(|c| c.sealed_manifest.as_slice()).collect();
        super::query(
            "INSERT INTO migration_staged (user_id, source_path, source_version, path_key,
                 content_hash, size_bytes, blob_id, sealed_path, sealed_manifest, staged_by)
             SELECT $1, s.path, s.version, s.key, s.hash, s.size, s.blob_id, s.sp, s.sm, $10
             FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                         $7::TEXT[], $8::BYTEA[], $9::BYTEA[])
                  AS s(path, version, key, hash, size, blob_id, sp, sm)",
        )
        .bind(user_id)
        .bind(&paths)
        .bind(&versions)
        .bind(&keys)
        .bind(&hashes)
        .bind(&sizes)
        .bind(&ids)
        .bind(&sealed_paths)
        .bind(&manifests)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Ok(decisions))
}

/// Most missing notes [`status`] and [`switch`] name.
pub const MISSING_LISTED: i64 = 1000;

/// How far a migration is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub mode: Mode,
    pub live_notes: i64,
    /// Live notes with a staged copy of their current version.
    pub staged: i64,
    /// Live notes without one (at most [`MISSING_LISTED`], by path): path and version.
    pub missing: Vec<(VaultPath, i64)>,
}

const COUNTS: &str = "SELECT count(*),
        count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM migration_staged s WHERE s.user_id = f.user_id
              AND s.source_path = f.path AND s.source_version = f.version))
     FROM file_state f WHERE f.user_id = $1 AND NOT f.is_deleted";

const MISSING: &str = "SELECT f.path, f.version FROM file_state f
     WHERE f.user_id = $1 AND NOT f.is_deleted AND NOT EXISTS (
         SELECT 1 FROM migration_staged s WHERE s.user_id = f.user_id
           AND s.source_path = f.path AND s.source_version = f.version)
     ORDER BY f.path LIMIT $2";

async fn status_in(conn: &mut PgConnection, user_id: UserId) -> Result<Status, sqlx::Error> {
    let mode = mode_in(conn, user_id).await?;
    if mode != Mode::Migrating {
        return Ok(Status {
            mode,
            live_notes: 0,
            staged: 0,
            missing: Vec::new(),
        });
    }
    let (live_notes, staged): (i64, i64) = super::query_as(COUNTS)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    let rows: Vec<(String, i64)> = super::query_as(MISSING)
        .bind(user_id)
        .bind(MISSING_LISTED)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Status {
        mode,
        live_notes,
        staged,
        missing: rows
            .into_iter()
            .filter_map(|(p, v)| Some((VaultPath::parse(&p).ok()?, v)))
            .collect(),
    })
}

/// The account's mode and, while it migrates, how far staging is (one snapshot).
pub async fn status(pool: &PgPool, user_id: UserId) -> Result<Status, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let status = status_in(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(status)
}

/// What a switch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switched {
    /// The account is encrypted: `notes` notes at version 1, the change sequence now `cursor`.
    Done { notes: i64, cursor: i64 },
    /// Some live note has no staged copy of its current version: nothing changed.
    Incomplete(Status),
    /// The account was not migrating: nothing changed.
    NotMigrating(Mode),
}

/// Switches a migrating account to encrypted in one transaction, under the user's row lock:
/// only if every live note has a staged copy of its current version. Then the staged
/// copies become the account's notes: each at the version number its plaintext note had
/// (a device's last synced version still says whether the note moved since), with its
/// sealed fields, path key for path, made by no device (`updated_by` null: they are not the
/// switching device's edits, and a device that took them for its own would delete a note
/// it never had, or push its older copy over one). Every plaintext version number stays
/// used (`compacted_version`), every plaintext note, version and tombstone is deleted, and
/// the account is encrypted. The new notes' change sequence values start 2 past the old
/// head, which becomes `compacted_seq` head + 1: every cursor a device got before the
/// switch is below it (410 `resync_required`, as after a compaction), and so is every
/// `since` before the switch. The plaintext blobs are then unused: the janitor's
/// collection deletes them.
pub async fn switch(pool: &PgPool, user_id: UserId) -> Result<Switched, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let status = status_in(&mut tx, user_id).await?;
    if status.mode != Mode::Migrating {
        return Ok(Switched::NotMigrating(status.mode));
    }
    if decide::decide_switch(status.mode, status.live_notes, status.staged).is_err() {
        return Ok(Switched::Incomplete(status));
    }
    // Copies of notes deleted or edited since they were staged are dropped.
    super::query(
        "DELETE FROM migration_staged s WHERE s.user_id = $1 AND NOT EXISTS (
             SELECT 1 FROM file_state f WHERE f.user_id = s.user_id AND NOT f.is_deleted
               AND f.path = s.source_path AND f.version = s.source_version)",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    // Every version number a plaintext note or tombstone had stays used: a note created
    // after the switch starts above them (as after a compaction), so a device that still
    // holds an old version of a path never takes the new note for it.
    super::query(
        "UPDATE users SET compacted_version = GREATEST(compacted_version,
             (SELECT COALESCE(max(version), 0) FROM file_state WHERE user_id = $1))
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    super::query("DELETE FROM file_state WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let (notes, cursor): (i64, i64) = super::query_as(
        "WITH moved AS (
             INSERT INTO file_state (user_id, path, path_key, version, content_hash,
                                     size_bytes, updated_by, change_seq)
             SELECT s.user_id, s.path_key, s.path_key, s.source_version, s.content_hash,
                    s.size_bytes, NULL,
                    u.change_seq + 1 + row_number() OVER (ORDER BY s.path_key)
             FROM migration_staged s JOIN users u ON u.id = s.user_id
             WHERE s.user_id = $1
             RETURNING size_bytes, change_seq),
         moved_size AS (
             SELECT count(*) AS n, COALESCE(sum(size_bytes), 0)::BIGINT AS bytes,
                    COALESCE(max(change_seq), 0) AS last FROM moved)
         UPDATE users u SET compacted_seq = u.change_seq + 1, compacted_until = now(),
                            change_seq = GREATEST(m.last, u.change_seq + 1),
                            vault_size = m.bytes, file_count = m.n, updated_at = now()
         FROM moved_size m WHERE u.id = $1
         RETURNING m.n, u.change_seq",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    super::query(
        "INSERT INTO file_versions (user_id, path, version, content_hash, size_bytes,
                                    device_id, change_seq, sealed_path, sealed_manifest,
                                    manifest_version, blob_id)
         SELECT f.user_id, f.path, f.version, s.content_hash, s.size_bytes, NULL, f.change_seq,
                s.sealed_path, s.sealed_manifest, f.version, s.blob_id
         FROM migration_staged s
         JOIN file_state f ON f.user_id = s.user_id AND f.path = s.path_key
         WHERE s.user_id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    super::query("DELETE FROM migration_staged WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    super::query(
        "UPDATE vault_keys SET migrating = false, encrypted_at = now(), updated_at = now()
         WHERE user_id = $1",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Switched::Done { notes, cursor })
}

/// Abandons a migration: the slots and staged copies are deleted and the account is
/// plaintext again, its notes untouched (the staged blobs are then unused: the janitor
/// collects them). `Err(mode)` when it was not migrating (nothing changed).
pub async fn abort(pool: &PgPool, user_id: UserId) -> Result<Result<(), Mode>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_user(&mut tx, user_id).await?;
    let deleted = super::query("DELETE FROM vault_keys WHERE user_id = $1 AND migrating")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        let mode = mode_in(&mut tx, user_id).await?;
        return Ok(Err(mode));
    }
    tx.commit().await?;
    Ok(Ok(()))
}
