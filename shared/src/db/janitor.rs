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

/// Locks up to `limit` blobs that no version and no file uses and that were verified
/// before `verified_before`, skipping rows another transaction holds (a confirm committing
/// them, or another janitor run). The references are read again after the lock, in a new
/// statement (a new snapshot): a confirm that committed in between keeps its blob.
pub async fn lock_collectable(
    tx: &mut Transaction<'_, Postgres>,
    verified_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(UserId, ContentHash)>, sqlx::Error> {
    const UNUSED: &str = "NOT EXISTS (SELECT 1 FROM file_versions v
                                      WHERE v.user_id = b.user_id
                                        AND v.content_hash = b.content_hash)
                          AND NOT EXISTS (SELECT 1 FROM file_state f
                                          WHERE f.user_id = b.user_id
                                            AND f.content_hash = b.content_hash)";
    let locked: Vec<(UserId, String)> = sqlx::query_as(&format!(
        "SELECT b.user_id, b.content_hash FROM blobs b
         WHERE b.verified_at < $1 AND {UNUSED}
         ORDER BY b.verified_at LIMIT $2
         FOR UPDATE OF b SKIP LOCKED"
    ))
    .bind(verified_before)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    if locked.is_empty() {
        return Ok(Vec::new());
    }
    let (users, hashes): (Vec<UserId>, Vec<String>) = locked.into_iter().unzip();
    let still: Vec<(UserId, String)> = sqlx::query_as(&format!(
        "SELECT b.user_id, b.content_hash
         FROM blobs b JOIN UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
           ON b.user_id = t.u AND b.content_hash = t.h
         WHERE {UNUSED}"
    ))
    .bind(&users)
    .bind(&hashes)
    .fetch_all(&mut **tx)
    .await?;
    Ok(parse_pairs(still))
}

/// Deletes the rows of blobs locked by [`lock_collectable`].
pub async fn delete_blob_rows(
    tx: &mut Transaction<'_, Postgres>,
    blobs: &[(UserId, ContentHash)],
) -> Result<u64, sqlx::Error> {
    let (users, hashes) = columns(blobs);
    let done = sqlx::query(
        "DELETE FROM blobs b USING UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
         WHERE b.user_id = t.u AND b.content_hash = t.h",
    )
    .bind(&users)
    .bind(&hashes)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Of `objects`, those with no `blobs` row whose advisory lock this transaction now holds
/// (exclusively, until it ends): nobody is verifying them, and nobody can start before the
/// transaction ends. The others are left alone this time.
pub async fn lock_unrecorded(
    conn: &mut PgConnection,
    objects: &[(UserId, ContentHash)],
) -> Result<Vec<(UserId, ContentHash)>, sqlx::Error> {
    let (users, hashes) = columns(objects);
    let rows: Vec<(UserId, String)> = sqlx::query_as(&format!(
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
    let rows: Vec<(UserId, String)> = sqlx::query_as(
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
    sqlx::query_scalar("SELECT position FROM janitor_progress WHERE task = $1")
        .bind(task)
        .fetch_optional(pool)
        .await
}

/// Records where `task` stopped; `None` starts it over next time.
pub async fn set_position(
    pool: &PgPool,
    task: &str,
    position: Option<&str>,
) -> Result<(), sqlx::Error> {
    match position {
        Some(p) => {
            sqlx::query(
                "INSERT INTO janitor_progress (task, position) VALUES ($1, $2)
                 ON CONFLICT (task) DO UPDATE SET position = $2, updated_at = now()",
            )
            .bind(task)
            .bind(p)
            .execute(pool)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM janitor_progress WHERE task = $1")
                .bind(task)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// Holds the janitor's session lock while it runs: a second run finds it taken and stops.
/// The lock goes with the connection.
pub async fn try_lock_run(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended('steel-janitor', 0))")
        .fetch_one(conn)
        .await
}

/// Releases [`try_lock_run`]'s lock.
pub async fn unlock_run(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock(hashtextextended('steel-janitor', 0))")
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
