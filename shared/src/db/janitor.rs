//! The janitor's SQL: collectable blobs under lock, which bucket objects are recorded, and
//! where the bucket sweep stopped.
//!
//! Locks that keep the janitor from deleting bytes a commit needs:
//! - a `blobs` row is locked `FOR UPDATE` by its collection (row and object deleted in the
//!   same transaction) and `FOR SHARE` by confirm's commit, which re-reads it there;
//! - an object without a row is deleted under an exclusive transaction advisory lock on
//!   (user, hash), which confirm holds shared while it checks the object in the bucket and
//!   records its row (see [`crate::db::blobs::Verifying`]).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::domain::{ContentHash, UserId};

/// The advisory lock key of one user's blob, as SQL over `$1` (user) and `$2` (hex hash).
pub(crate) const BLOB_LOCK_KEY: &str = "hashtextextended($1::TEXT || '/' || $2, 0)";

/// Where the collection pass stopped: the last blob looked at, in the order it walks
/// (`verified_at`, user, hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPosition {
    pub verified_at: DateTime<Utc>,
    pub user_id: UserId,
    pub content_hash: String,
}

impl BlobPosition {
    /// As stored in `janitor_progress`.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}",
            self.verified_at.to_rfc3339(),
            self.user_id,
            self.content_hash
        )
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let mut parts = raw.splitn(3, '|');
        Some(BlobPosition {
            verified_at: DateTime::parse_from_rfc3339(parts.next()?)
                .ok()?
                .with_timezone(&Utc),
            user_id: UserId(parts.next()?.parse().ok()?),
            content_hash: parts.next()?.to_owned(),
        })
    }
}

/// One window of the collection pass.
#[derive(Debug, Default)]
pub struct Collectable {
    /// The window's blobs that nothing uses, locked.
    pub locked: Vec<(UserId, ContentHash)>,
    /// How many blobs the window looked at.
    pub looked_at: usize,
    /// The window's last blob: where the next one starts.
    pub last: Option<BlobPosition>,
}

const UNUSED: &str = "NOT EXISTS (SELECT 1 FROM file_versions v
                                  WHERE v.user_id = b.user_id
                                    AND v.content_hash = b.content_hash)
                      AND NOT EXISTS (SELECT 1 FROM file_state f
                                      WHERE f.user_id = b.user_id
                                        AND f.content_hash = b.content_hash)
                      AND NOT EXISTS (SELECT 1 FROM migration_staged s
                                      WHERE s.user_id = b.user_id
                                        AND s.content_hash = b.content_hash)";

/// Looks at the next `limit` blobs verified before `verified_before` (after `after`, in the
/// pass's order, on the index of that order: each blob is looked at once a pass, however many
/// stay in use) and locks those that no version and no file uses, skipping rows another
/// transaction holds (a confirm committing them, or another janitor run). The references are
/// read again after the lock, in a new statement (a new snapshot): a confirm that committed
/// in between keeps its blob.
pub async fn lock_collectable(
    tx: &mut Transaction<'_, Postgres>,
    verified_before: DateTime<Utc>,
    after: Option<&BlobPosition>,
    limit: i64,
) -> Result<Collectable, sqlx::Error> {
    // Two texts rather than `$2 IS NULL OR ...`: a generic plan of that would not use the index.
    let window: Vec<(DateTime<Utc>, UserId, String, bool)> = match after {
        None => {
            super::query_as(&format!(
                "SELECT b.verified_at, b.user_id, b.content_hash, {UNUSED} FROM blobs b
                 WHERE b.verified_at < $1
                 ORDER BY b.verified_at, b.user_id, b.content_hash LIMIT $2"
            ))
            .bind(verified_before)
            .bind(limit)
            .fetch_all(&mut **tx)
            .await?
        }
        Some(p) => {
            super::query_as(&format!(
                "SELECT b.verified_at, b.user_id, b.content_hash, {UNUSED} FROM blobs b
                 WHERE b.verified_at < $1
                   AND (b.verified_at, b.user_id, b.content_hash) > ($3, $4, $5)
                 ORDER BY b.verified_at, b.user_id, b.content_hash LIMIT $2"
            ))
            .bind(verified_before)
            .bind(limit)
            .bind(p.verified_at)
            .bind(p.user_id)
            .bind(&p.content_hash)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    let mut out = Collectable {
        looked_at: window.len(),
        last: window.last().map(|(at, user, hash, _)| BlobPosition {
            verified_at: *at,
            user_id: *user,
            content_hash: hash.clone(),
        }),
        ..Collectable::default()
    };
    let (users, hashes): (Vec<UserId>, Vec<String>) = window
        .into_iter()
        .filter(|w| w.3)
        .map(|(_, user, hash, _)| (user, hash))
        .unzip();
    if users.is_empty() {
        return Ok(out);
    }
    let locked: Vec<(UserId, String)> = super::query_as(
        "SELECT b.user_id, b.content_hash
         FROM blobs b JOIN UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
           ON b.user_id = t.u AND b.content_hash = t.h
         ORDER BY b.user_id, b.content_hash
         FOR UPDATE OF b SKIP LOCKED",
    )
    .bind(&users)
    .bind(&hashes)
    .fetch_all(&mut **tx)
    .await?;
    if locked.is_empty() {
        return Ok(out);
    }
    let (users, hashes): (Vec<UserId>, Vec<String>) = locked.into_iter().unzip();
    let still: Vec<(UserId, String)> = super::query_as(&format!(
        "SELECT b.user_id, b.content_hash
         FROM blobs b JOIN UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
           ON b.user_id = t.u AND b.content_hash = t.h
         WHERE {UNUSED}"
    ))
    .bind(&users)
    .bind(&hashes)
    .fetch_all(&mut **tx)
    .await?;
    out.locked = parse_pairs(still);
    Ok(out)
}

/// Deletes the rows of blobs locked by [`lock_collectable`].
pub async fn delete_blob_rows(
    tx: &mut Transaction<'_, Postgres>,
    blobs: &[(UserId, ContentHash)],
) -> Result<u64, sqlx::Error> {
    let (users, hashes) = columns(blobs);
    // The rows' bytes leave the users' stored-bytes counters in the same statement.
    let done: i64 = super::query_scalar(
        "WITH gone AS (
             DELETE FROM blobs b USING UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
             WHERE b.user_id = t.u AND b.content_hash = t.h
             RETURNING b.user_id, b.size_bytes),
         counted AS (
             UPDATE blob_usage u
             SET stored_bytes = GREATEST(u.stored_bytes - g.bytes, 0),
                 blob_count = GREATEST(u.blob_count - g.n, 0)
             FROM (SELECT user_id, sum(size_bytes) AS bytes, count(*) AS n
                   FROM gone GROUP BY user_id) g
             WHERE u.user_id = g.user_id)
         SELECT count(*) FROM gone",
    )
    .bind(&users)
    .bind(&hashes)
    .fetch_one(&mut **tx)
    .await?;
    Ok(done as u64)
}

/// Of `objects`, those with no `blobs` row whose advisory lock this transaction now holds
/// (exclusively, until it ends): nobody is verifying them, and nobody can start before the
/// transaction ends. The others are left alone this time.
pub async fn lock_unrecorded(
    conn: &mut PgConnection,
    objects: &[(UserId, ContentHash)],
) -> Result<Vec<(UserId, ContentHash)>, sqlx::Error> {
    let (users, hashes) = columns(objects);
    let rows: Vec<(UserId, String)> = super::query_as(&format!(
        "SELECT t.u, t.h FROM UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
         WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.user_id = t.u AND b.content_hash = t.h)
           AND pg_try_advisory_xact_lock({})",
        BLOB_LOCK_KEY.replace("$1", "t.u").replace("$2", "t.h")
    ))
    .bind(&users)
    .bind(&hashes)
    .fetch_all(&mut *conn)
    .await?;
    // The row may have been recorded between the check and the lock: read again.
    let locked = parse_pairs(rows);
    let (users, hashes) = columns(&locked);
    let rows: Vec<(UserId, String)> = super::query_as(
        "SELECT t.u, t.h FROM UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
         WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.user_id = t.u AND b.content_hash = t.h)",
    )
    .bind(&users)
    .bind(&hashes)
    .fetch_all(&mut *conn)
    .await?;
    Ok(parse_pairs(rows))
}

/// Where `task` stopped, if anywhere.
pub async fn position(pool: &PgPool, task: &str) -> Result<Option<String>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let found = super::query_scalar("SELECT position FROM janitor_progress WHERE task = $1")
        .bind(task)
        .fetch_optional(&mut *one)
        .await?;
    one.done().await?;
    Ok(found)
}

/// Records where `task` stopped; `None` starts it over next time.
pub async fn set_position(
    pool: &PgPool,
    task: &str,
    position: Option<&str>,
) -> Result<(), sqlx::Error> {
    match position {
        Some(p) => {
            let mut one = super::single(pool).await?;
            super::query(
                "INSERT INTO janitor_progress (task, position) VALUES ($1, $2)
                 ON CONFLICT (task) DO UPDATE SET position = $2, updated_at = now()",
            )
            .bind(task)
            .bind(p)
            .execute(&mut *one)
            .await?;
            one.done().await?;
        }
        None => {
            let mut one = super::single(pool).await?;
            super::query("DELETE FROM janitor_progress WHERE task = $1")
                .bind(task)
                .execute(&mut *one)
                .await?;
            one.done().await?;
        }
    }
    Ok(())
}

/// Holds the janitor's session lock while it runs: a second run finds it taken and stops.
/// The lock goes with the connection.
pub async fn try_lock_run(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    super::query_scalar("SELECT pg_try_advisory_lock(hashtextextended('steel-janitor', 0))")
        .fetch_one(conn)
        .await
}

/// Releases [`try_lock_run`]'s lock.
pub async fn unlock_run(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    super::query("SELECT pg_advisory_unlock(hashtextextended('steel-janitor', 0))")
        .execute(conn)
        .await?;
    Ok(())
}

fn columns(pairs: &[(UserId, ContentHash)]) -> (Vec<UserId>, Vec<String>) {
    pairs.iter().map(|(u, h)| (*u, h.to_hex())).unzip()
}

fn parse_pairs(rows: Vec<(UserId, String)>) -> Vec<(UserId, ContentHash)> {
    rows.into_iter()
        .filter_map(|(u, h)| Some((u, ContentHash::parse(&h).ok()?)))
        .collect()
}
