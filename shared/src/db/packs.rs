//! Packs' rows: which blobs each pack holds, so that a pack is served only while none of its
//! blobs was collected.
//!
//! The agreement with the janitor's collection (`db::janitor::lock_collectable` locks a
//! `blobs` row `FOR UPDATE` and, in the same transaction, [`delete_holding`] deletes every
//! pack that holds it, rows and objects):
//! - [`reserve`] records a pack's blobs while it holds their `blobs` rows `FOR SHARE`, before
//!   the builder reads a byte: a blob the janitor is collecting is waited for and then left
//!   out; a blob reserved first is collected later only with the pack;
//! - [`still_served`] reads the pack's row `FOR SHARE` after the object was written: a
//!   collection that deleted the row is waited for (its commit follows the object's
//!   deletion), and then the pack is not served; a collection after the check deletes the
//!   object, which is already written.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{ContentHash, UserId};

/// A blob is worth packing only while some version of a note has it as content (the
/// janitor's notion of "used", negated).
const IN_USE: &str = "(EXISTS (SELECT 1 FROM file_versions v
                               WHERE v.user_id = b.user_id AND v.content_hash = b.content_hash)
                       OR EXISTS (SELECT 1 FROM file_state f
                                  WHERE f.user_id = b.user_id AND f.content_hash = b.content_hash))";

/// Of `hashes`, the user's verified blobs that a version of a note uses, with their sizes.
pub async fn in_use(
    pool: &PgPool,
    user_id: UserId,
    hashes: &[ContentHash],
) -> Result<HashMap<ContentHash, i64>, sqlx::Error> {
    let hex: Vec<String> = hashes.iter().map(ContentHash::to_hex).collect();
    let mut one = super::single(pool).await?;
    let rows: Vec<(String, i64)> = super::query_as(&format!(
        "SELECT b.content_hash, b.size_bytes FROM blobs b
         WHERE b.user_id = $1 AND b.content_hash = ANY($2::TEXT[]) AND {IN_USE}"
    ))
    .bind(user_id)
    .bind(&hex)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(parse_sized(rows))
}

/// Records pack `pack_id` of `hashes` (one transaction): locks the blobs' rows `FOR SHARE`
/// (in a fixed order), keeps those still there and in use, and records them as the pack's.
/// Returns the blobs recorded, with their sizes.
pub async fn reserve(
    pool: &PgPool,
    user_id: UserId,
    pack_id: Uuid,
    hashes: &[ContentHash],
) -> Result<HashMap<ContentHash, i64>, sqlx::Error> {
    let mut hex: Vec<String> = hashes.iter().map(ContentHash::to_hex).collect();
    hex.sort();
    let mut tx = pool.begin().await?;
    let locked: Vec<(String, i64)> = super::query_as(
        "SELECT b.content_hash, b.size_bytes FROM blobs b
         WHERE b.user_id = $1 AND b.content_hash = ANY($2::TEXT[])
         ORDER BY b.content_hash
         FOR SHARE OF b",
    )
    .bind(user_id)
    .bind(&hex)
    .fetch_all(&mut *tx)
    .await?;
    // In use, read again after the locks (a new statement, a new snapshot).
    let locked_hex: Vec<String> = locked.into_iter().map(|(h, _)| h).collect();
    let kept: Vec<(String, i64)> = super::query_as(&format!(
        "SELECT b.content_hash, b.size_bytes FROM blobs b
         WHERE b.user_id = $1 AND b.content_hash = ANY($2::TEXT[]) AND {IN_USE}"
    ))
    .bind(user_id)
    .bind(&locked_hex)
    .fetch_all(&mut *tx)
    .await?;
    let kept_hex: Vec<&str> = kept.iter().map(|(h, _)| h.as_str()).collect();
    super::query("INSERT INTO packs (id, user_id) VALUES ($1, $2)")
        .bind(pack_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    super::query(
        "INSERT INTO pack_blobs (pack_id, user_id, content_hash)
         SELECT $1, $2, h FROM UNNEST($3::TEXT[]) AS t(h)",
    )
    .bind(pack_id)
    .bind(user_id)
    .bind(&kept_hex)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(parse_sized(kept))
}

/// Whether pack `pack_id` may be served: its row is there, read `FOR SHARE` (waiting for a
/// collection that is deleting it).
pub async fn still_served(pool: &PgPool, pack_id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let found: Option<i32> = super::query_scalar("SELECT 1 FROM packs WHERE id = $1 FOR SHARE")
        .bind(pack_id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(found.is_some())
}

/// Deletes pack `pack_id`'s rows (a pack not served after all).
pub async fn forget(pool: &PgPool, pack_id: Uuid) -> Result<(), sqlx::Error> {
    let mut one = super::single(pool).await?;
    super::query("DELETE FROM packs WHERE id = $1")
        .bind(pack_id)
        .execute(&mut *one)
        .await?;
    one.done().await?;
    Ok(())
}

/// In the collection's transaction: deletes the rows of every pack that holds one of
/// `blobs` and answers those packs (user, id), whose objects the caller deletes before it
/// commits.
pub async fn delete_holding(
    tx: &mut Transaction<'_, Postgres>,
    blobs: &[(UserId, ContentHash)],
) -> Result<Vec<(UserId, Uuid)>, sqlx::Error> {
    let (users, hashes): (Vec<UserId>, Vec<String>) =
        blobs.iter().map(|(u, h)| (*u, h.to_hex())).unzip();
    super::query_as(
        "DELETE FROM packs p
         WHERE p.id IN (SELECT pb.pack_id FROM pack_blobs pb
                        JOIN UNNEST($1::UUID[], $2::TEXT[]) AS t(u, h)
                          ON pb.user_id = t.u AND pb.content_hash = t.h)
         RETURNING p.user_id, p.id",
    )
    .bind(&users)
    .bind(&hashes)
    .fetch_all(&mut **tx)
    .await
}

/// Up to `limit` packs created before `before` (their lifetime is over), oldest first, as
/// (user, id): the caller deletes their objects, then their rows ([`delete`]).
pub async fn expired(
    pool: &PgPool,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(UserId, Uuid)>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let rows = super::query_as(
        "SELECT user_id, id FROM packs WHERE created_at < $1 ORDER BY created_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(rows)
}

/// Deletes these packs' rows.
pub async fn delete(pool: &PgPool, packs: &[(UserId, Uuid)]) -> Result<u64, sqlx::Error> {
    let ids: Vec<Uuid> = packs.iter().map(|(_, id)| *id).collect();
    let mut one = super::single(pool).await?;
    let done = super::query("DELETE FROM packs WHERE id = ANY($1::UUID[])")
        .bind(&ids)
        .execute(&mut *one)
        .await?;
    one.done().await?;
    Ok(done.rows_affected())
}

fn parse_sized(rows: Vec<(String, i64)>) -> HashMap<ContentHash, i64> {
    rows.into_iter()
        .filter_map(|(h, size)| Some((ContentHash::parse(&h).ok()?, size)))
        .collect()
}
