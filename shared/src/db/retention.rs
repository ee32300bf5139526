//! The janitor's retention SQL: versions that left the history window, tombstones that left
//! theirs, and deleted accounts whose prefix is swept once more after the last upload URL
//! issued to them expired.
//!
//! Tombstones are compacted under the user's row lock, the lock every write takes first, so
//! a note revived meanwhile is never deleted and the user's `compacted_seq` moves in the same
//! transaction as the rows it describes.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::UserId;

/// Where a pass over the history stopped: the last version looked at, in the order the pass
/// walks (`created_at`, user, path, version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPosition {
    pub created_at: DateTime<Utc>,
    pub user_id: UserId,
    pub path: String,
    pub version: i64,
}

impl HistoryPosition {
    /// As stored in `janitor_progress` (the path last: it may hold any character).
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.created_at.to_rfc3339(),
            self.user_id,
            self.version,
            self.path
        )
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let mut parts = raw.splitn(4, '|');
        let created_at = DateTime::parse_from_rfc3339(parts.next()?)
            .ok()?
            .with_timezone(&Utc);
        let user_id = UserId(parts.next()?.parse().ok()?);
        let version = parts.next()?.parse().ok()?;
        let path = parts.next()?.to_owned();
        Some(HistoryPosition {
            created_at,
            user_id,
            path,
            version,
        })
    }
}

/// (looked at, deleted, and the last version looked at: created_at, user, path, version).
type PrunedRow = (
    i64,
    i64,
    Option<DateTime<Utc>>,
    Option<UserId>,
    Option<String>,
    Option<i64>,
);

/// One batch of the history pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Versions looked at (older than the cutoff).
    pub scanned: u64,
    /// Versions deleted.
    pub deleted: u64,
    /// The last version looked at; `None` when the batch was empty.
    pub last: Option<HistoryPosition>,
}

/// Looks at up to `limit` versions created before `cutoff`, after `after` in the pass's order,
/// and deletes those the history no longer keeps: every version but the note's current one
/// and, for a deleted note (whose tombstone is still kept), its last version with content,
/// so "deleted notes" and restore keep working as long as the tombstone lives.
pub async fn prune_history(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    after: Option<&HistoryPosition>,
    limit: i64,
) -> Result<Pruned, sqlx::Error> {
    // Two texts rather than `$2 IS NULL OR ...`: a generic plan of that would not use the
    // index of the pass's order.
    let after_clause = if after.is_some() {
        "AND (v.created_at, v.user_id, v.path, v.version) > ($3, $4::UUID, $5::TEXT, $6::BIGINT)"
    } else {
        ""
    };
    let sql = format!(
        "WITH batch AS (
             SELECT v.user_id, v.path, v.version, v.created_at FROM file_versions v
             WHERE v.created_at < $1 {after_clause}
             ORDER BY v.created_at, v.user_id, v.path, v.version
             LIMIT $2),
         doomed AS (
             SELECT b.user_id, b.path, b.version FROM batch b
             JOIN file_state f ON f.user_id = b.user_id AND f.path = b.path
             WHERE b.version <> f.version
               AND NOT (f.is_deleted AND b.version =
                        (SELECT max(x.version) FROM file_versions x
                         WHERE x.user_id = b.user_id AND x.path = b.path
                           AND NOT x.is_deleted))),
         gone AS (
             DELETE FROM file_versions v USING doomed d
             WHERE v.user_id = d.user_id AND v.path = d.path AND v.version = d.version
             RETURNING 1),
         last AS (
             SELECT created_at, user_id, path, version FROM batch
             ORDER BY created_at DESC, user_id DESC, path DESC, version DESC LIMIT 1)
         SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM gone),
                l.created_at, l.user_id, l.path, l.version
         FROM (SELECT 1) one LEFT JOIN last l ON true"
    );
    let mut one = super::single(pool).await?;
    let query = super::query_as(&sql).bind(cutoff).bind(limit);
    let query = match after {
        Some(p) => query
            .bind(p.created_at)
            .bind(p.user_id)
            .bind(p.path.as_str())
            .bind(p.version),
        None => query,
    };
    let row: PrunedRow = query.fetch_one(&mut *one).await?;
    one.done().await?;
    let (scanned, deleted, created_at, user_id, path, version) = row;
    let last = match (created_at, user_id, path, version) {
        (Some(created_at), Some(user_id), Some(path), Some(version)) => Some(HistoryPosition {
            created_at,
            user_id,
            path,
            version,
        }),
        _ => None,
    };
    Ok(Pruned {
        scanned: scanned as u64,
        deleted: deleted as u64,
        last,
    })
}

/// Up to `limit` users with a tombstone deleted before `cutoff`.
pub async fn users_with_old_tombstones(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<UserId>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let users = super::query_scalar(
        "SELECT DISTINCT user_id FROM (
             SELECT user_id FROM file_state WHERE is_deleted AND deleted_at < $1
             ORDER BY deleted_at LIMIT $2 * 100) t
         LIMIT $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(users)
}

/// Compacts up to `limit` of the user's tombstones deleted before `cutoff` (their history
/// goes with them) and raises the user's compaction mark, under the user's row lock. Returns
/// how many went; 0 when the user is gone.
pub async fn compact_tombstones(
    pool: &PgPool,
    user_id: UserId,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: Option<i32> = super::query_scalar("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    if locked.is_none() {
        return Ok(0);
    }
    // file_versions goes with its file_state row (ON DELETE CASCADE).
    let gone: i64 = super::query_scalar(
        "WITH gone AS (
             DELETE FROM file_state f
             WHERE f.user_id = $1 AND f.path IN (
                 SELECT path FROM file_state
                 WHERE user_id = $1 AND is_deleted AND deleted_at < $2
                 ORDER BY change_seq LIMIT $3)
             RETURNING f.change_seq, f.deleted_at, f.version),
         marked AS (
             UPDATE users SET
                 compacted_seq = GREATEST(compacted_seq, (SELECT max(change_seq) FROM gone)),
                 compacted_version = GREATEST(compacted_version, (SELECT max(version) FROM gone)),
                 compacted_until = GREATEST(compacted_until, (SELECT max(deleted_at) FROM gone))
             WHERE id = $1)
         SELECT count(*) FROM gone",
    )
    .bind(user_id)
    .bind(cutoff)
    .bind(limit)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(gone as u64)
}

/// Finished purges requested before `requested_before` whose prefix was not swept again
/// since: a URL issued before the deletion may have uploaded after the purge.
pub async fn purges_to_resweep(
    pool: &PgPool,
    requested_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<UserId>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let users = super::query_scalar(
        "SELECT user_id FROM account_purges
         WHERE purged_at IS NOT NULL AND reswept_at IS NULL AND requested_at < $1
         ORDER BY requested_at LIMIT $2",
    )
    .bind(requested_before)
    .bind(limit)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(users)
}

/// Records the second sweep of a purged prefix and what it deleted.
pub async fn mark_reswept(
    pool: &PgPool,
    user_id: UserId,
    objects_deleted: u64,
) -> Result<(), sqlx::Error> {
    let mut one = super::single(pool).await?;
    super::query(
        "UPDATE account_purges
         SET reswept_at = now(), objects_deleted = objects_deleted + $2
         WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(objects_deleted as i64)
    .execute(&mut *one)
    .await?;
    one.done().await
}
