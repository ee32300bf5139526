//! Upload grants: the upload URLs push handed out whose bytes no confirm has recorded yet
//! (see [`crate::vault::uploads`] for why they are capped). A grant counts while an object
//! uploaded through its URL could still be in the bucket unconfirmed: until `horizon`
//! (the orphan age plus the URL's life) after it was handed out, or until confirm records
//! the content's blob (its bytes then count in `stored_bytes`). Confirm does not touch the
//! grants: push deletes its user's spent ones, the janitor everyone's expired ones.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::domain::{ContentHash, UserId};
use crate::vault::uploads::{Admission, admit};

/// A grant row whose content no confirm has recorded: it still counts. `OFFSET 0` keeps it
/// one primary-key probe per grant row: as a join, the planner trusted statistics taken
/// while `blobs` was small (a fresh database filling up) and chose a nested-loop anti-join
/// that re-read all of the user's blobs for every grant, 1.1-2.5 s a 1,000-note push in
/// `make bench` (12 million rows compared for 2,000 grants; 6 ms as probes, same data).
const UNRECORDED: &str = "NOT EXISTS (SELECT 1 FROM blobs b
     WHERE b.user_id = upload_grants.user_id AND b.content_hash = upload_grants.content_hash
     OFFSET 0)";

/// What [`grant`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granted {
    /// The grants are recorded: hand out the URLs.
    Yes,
    /// This push alone asks for more than the allowance.
    PushTooLarge { asked: i64 },
    /// Too much is outstanding; enough of it expires at `at` (sooner if it is confirmed).
    Wait { at: DateTime<Utc> },
}

/// Records grants of `asked` (distinct contents with their sizes) if the user's outstanding
/// grants leave room under `cap`. One transaction under the user's grant lock, so two
/// pushes at once cannot both take the last room. A content granted again is not counted
/// twice: its row is renewed. The user's expired grants are deleted on the way.
pub async fn grant(
    pool: &PgPool,
    user_id: UserId,
    asked: &[(ContentHash, i64)],
    now: DateTime<Utc>,
    horizon: TimeDelta,
    cap: i64,
) -> Result<Granted, sqlx::Error> {
    if asked.is_empty() {
        return Ok(Granted::Yes);
    }
    let hashes: Vec<String> = asked.iter().map(|(h, _)| h.to_hex()).collect();
    let sizes: Vec<i64> = asked.iter().map(|(_, s)| *s).collect();
    let since = now - horizon;
    let mut tx = pool.begin().await?;
    // The user's row first (key-share, as the grants' foreign key would take it), then the
    // grant rows: the order `DELETE /account` locks them in, so the two cannot deadlock.
    super::query(GRANT_LOCK)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // The asked hashes as an anti-join (hashed): `content_hash <> ALL($3)` compared every
    // grant row with every asked hash, 1.4 s a push by the tenth 1,000-note batch of a
    // 10,000-note first upload (issue 29).
    let outstanding: i64 = super::query_scalar(&format!(
        "SELECT COALESCE(sum(size_bytes), 0)::BIGINT FROM upload_grants
         WHERE user_id = $1 AND granted_at > $2
           AND NOT EXISTS (SELECT 1 FROM UNNEST($3::TEXT[]) AS a(h)
                           WHERE a.h = upload_grants.content_hash)
           AND {UNRECORDED}"
    ))
    .bind(user_id)
    .bind(since)
    .bind(&hashes)
    .fetch_one(&mut *tx)
    .await?;
    let granted = match admit(outstanding, &sizes, cap) {
        Admission::Grant => {
            super::query(&format!(
                "WITH spent AS (
                     DELETE FROM upload_grants
                     WHERE user_id = $1 AND (granted_at <= $4 OR NOT {UNRECORDED}))
                 INSERT INTO upload_grants (user_id, content_hash, size_bytes, granted_at)
                 SELECT $1, h, s, $5 FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS t(h, s)
                 ON CONFLICT (user_id, content_hash) DO UPDATE
                     SET size_bytes = GREATEST(upload_grants.size_bytes, EXCLUDED.size_bytes),
                         granted_at = EXCLUDED.granted_at"
            ))
            .bind(user_id)
            .bind(&hashes)
            .bind(&sizes)
            .bind(since)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            Granted::Yes
        }
        Admission::PushTooLarge { asked } => Granted::PushTooLarge { asked },
        Admission::Wait { free } => {
            // The oldest grants whose bytes add up to `free`: when the last of them expires,
            // the same push fits (if nothing else was granted meanwhile).
            let last: Option<DateTime<Utc>> = super::query_scalar(&format!(
                "SELECT granted_at FROM (
                     SELECT granted_at,
                            sum(size_bytes) OVER (ORDER BY granted_at, content_hash) AS freed
                     FROM upload_grants
                     WHERE user_id = $1 AND granted_at > $2 AND content_hash <> ALL($3::TEXT[])
                       AND {UNRECORDED}
                 ) t
                 WHERE freed >= $4 ORDER BY granted_at LIMIT 1"
            ))
            .bind(user_id)
            .bind(since)
            .bind(&hashes)
            .bind(free)
            .fetch_optional(&mut *tx)
            .await?;
            Granted::Wait {
                at: last.unwrap_or(now) + horizon,
            }
        }
    };
    tx.commit().await?;
    Ok(granted)
}

/// The lock every change of a user's grants takes first: the user's row key-share (as the
/// grants' foreign key would take it), then the user's grant lock, the order `DELETE
/// /account` locks them in, so the two cannot deadlock.
const GRANT_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('upload-grants/' || id::TEXT, 0))
     FROM users WHERE id = $1 FOR KEY SHARE";

/// Renews the grant of `key` (an incoming pack's, see `crate::storage::incoming_grant_key`) to
/// `now` if it still counts (handed out after `now - horizon`), so that it keeps counting
/// while the objects written from it may still be swept; answers its size, `None` when
/// there is no such grant. It adds no bytes: the grant was already counted.
pub async fn renew(
    pool: &PgPool,
    user_id: UserId,
    key: &ContentHash,
    now: DateTime<Utc>,
    horizon: TimeDelta,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::query(GRANT_LOCK)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let size: Option<i64> = super::query_scalar(
        "UPDATE upload_grants SET granted_at = $3
         WHERE user_id = $1 AND content_hash = $2 AND granted_at > $4
         RETURNING size_bytes",
    )
    .bind(user_id)
    .bind(key.to_hex())
    .bind(now)
    .bind(now - horizon)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(size)
}

/// Deletes the grant of `key`: its objects are gone or recorded.
pub async fn release(pool: &PgPool, user_id: UserId, key: &ContentHash) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::query(GRANT_LOCK)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    super::query("DELETE FROM upload_grants WHERE user_id = $1 AND content_hash = $2")
        .bind(user_id)
        .bind(key.to_hex())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Deletes up to `limit` grants handed out before `before` (of every user): the janitor's
/// pass, for users who stopped pushing. Answers how many went.
pub async fn delete_expired(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let done = super::query(
        "DELETE FROM upload_grants WHERE (user_id, content_hash) IN (
             SELECT user_id, content_hash FROM upload_grants
             WHERE granted_at <= $1 ORDER BY granted_at LIMIT $2
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(before)
    .bind(limit)
    .execute(&mut *one)
    .await?;
    one.done().await?;
    Ok(done.rows_affected())
}
