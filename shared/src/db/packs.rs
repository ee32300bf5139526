//! Packs' rows: which blobs each pack holds (and where, once it is written), so that a
//! pack is served only while none of its blobs was collected, and handed out again to a
//! later request while it lives.
//!
//! The agreement with the janitor's collection (`db::janitor::lock_collectable` locks a
//! `blobs` row `FOR UPDATE` and, in the same transaction, [`delete_holding`] deletes every
//! pack that holds it, rows and objects):
//! - [`reserve`] (a pack built on request) and [`reserve_whole`] (a bulk upload's incoming
//!   pack kept as a read pack) record a pack's blobs while they hold their `blobs` rows
//!   `FOR SHARE`, before the object is written: a blob the janitor is collecting is waited
//!   for and then left out (a kept pack missing one is not kept); a blob reserved first is
//!   collected later only with the pack;
//! - [`publish`] updates the pack's row after the object was written (waiting for a
//!   collection that is deleting it): no row, and the pack is not served; else it records
//!   the pack's length and index, and a collection after that deletes the object, which is
//!   already written;
//! - [`hold`] reads the rows of packs about to be handed out again `FOR SHARE`, the same
//!   check as [`publish`] for a pack written earlier.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{ContentHash, UserId};
use steel_protocol::wire::PackedBlob;

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
    let locked = lock_blobs(&mut tx, user_id, &hex).await?;
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

/// Records pack `pack_id` of the blobs `index` locates (a bulk upload's incoming pack, its
/// bytes checked): locks the blobs' rows `FOR SHARE` (in a fixed order) and records the pack
/// with its whole index only if every blob is there with its length; else records nothing
/// and answers false. The pack is not handed out before [`publish`].
pub async fn reserve_whole(
    pool: &PgPool,
    user_id: UserId,
    pack_id: Uuid,
    index: &[PackedBlob],
) -> Result<bool, sqlx::Error> {
    let (hex, offsets, lengths) = index_columns(index);
    let mut sorted = hex.clone();
    sorted.sort();
    let mut tx = pool.begin().await?;
    let locked = lock_blobs(&mut tx, user_id, &sorted).await?;
    let sizes = parse_sized(locked);
    if index
        .iter()
        .any(|b| sizes.get(&b.content_hash) != Some(&b.length))
    {
        tx.rollback().await?;
        return Ok(false);
    }
    super::query("INSERT INTO packs (id, user_id) VALUES ($1, $2)")
        .bind(pack_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    super::query(
        "INSERT INTO pack_blobs (pack_id, user_id, content_hash, byte_offset, length)
         SELECT $1, $2, h, o, l FROM UNNEST($3::TEXT[], $4::BIGINT[], $5::BIGINT[]) AS t(h, o, l)",
    )
    .bind(pack_id)
    .bind(user_id)
    .bind(&hex)
    .bind(&offsets)
    .bind(&lengths)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The user's blobs of `sorted_hex` (sorted, so that two lockers take the rows in one order)
/// with their sizes, their rows locked `FOR SHARE` until `tx` ends: a collection of one of
/// them waits, and one under way is waited for.
async fn lock_blobs(
    tx: &mut Transaction<'_, Postgres>,
    user_id: UserId,
    sorted_hex: &[String],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    super::query_as(
        "SELECT b.content_hash, b.size_bytes FROM blobs b
         WHERE b.user_id = $1 AND b.content_hash = ANY($2::TEXT[])
         ORDER BY b.content_hash
         FOR SHARE OF b",
    )
    .bind(user_id)
    .bind(sorted_hex)
    .fetch_all(&mut **tx)
    .await
}

/// A pack's index as the three arrays its rows are written from: hashes (hex), offsets,
/// lengths, in index order.
fn index_columns(index: &[PackedBlob]) -> (Vec<String>, Vec<i64>, Vec<i64>) {
    let hex = index.iter().map(|b| b.content_hash.to_hex()).collect();
    let offsets = index.iter().map(|b| b.offset).collect();
    let lengths = index.iter().map(|b| b.length).collect();
    (hex, offsets, lengths)
}

/// After pack `pack_id`'s object was written: whether it may be served. Its row is updated
/// (waiting for a collection that is deleting it); none, and the answer is false. Else the
/// pack is recorded as written, `size_bytes` long, holding the blobs of `index` where it
/// says (the rows of reserved blobs the object does not hold go), and may from now on be
/// handed out again ([`reusable`]).
pub async fn publish(
    pool: &PgPool,
    pack_id: Uuid,
    size_bytes: i64,
    index: &[PackedBlob],
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let found: Option<i32> =
        super::query_scalar("UPDATE packs SET size_bytes = $2 WHERE id = $1 RETURNING 1")
            .bind(pack_id)
            .bind(size_bytes)
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        tx.commit().await?;
        return Ok(false);
    }
    let (hex, offsets, lengths) = index_columns(index);
    super::query(
        "UPDATE pack_blobs pb SET byte_offset = t.o, length = t.l
         FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::BIGINT[]) AS t(h, o, l)
         WHERE pb.pack_id = $1 AND pb.content_hash = t.h",
    )
    .bind(pack_id)
    .bind(&hex)
    .bind(&offsets)
    .bind(&lengths)
    .execute(&mut *tx)
    .await?;
    super::query("DELETE FROM pack_blobs WHERE pack_id = $1 AND byte_offset IS NULL")
        .bind(pack_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// The user's written packs created at or after `since` that hold at least one of
/// `hashes`, each as (id, length, whole index in offset order).
pub async fn reusable(
    pool: &PgPool,
    user_id: UserId,
    hashes: &[ContentHash],
    since: DateTime<Utc>,
) -> Result<Vec<(Uuid, i64, Vec<PackedBlob>)>, sqlx::Error> {
    let hex: Vec<String> = hashes.iter().map(ContentHash::to_hex).collect();
    let mut one = super::single(pool).await?;
    type Row = (Uuid, i64, String, Option<i64>, Option<i64>);
    let rows: Vec<Row> = super::query_as(
        "SELECT p.id, p.size_bytes, pb.content_hash, pb.byte_offset, pb.length
         FROM packs p JOIN pack_blobs pb ON pb.pack_id = p.id
         WHERE p.user_id = $1 AND p.size_bytes IS NOT NULL AND p.created_at >= $3
           AND p.id IN (SELECT x.pack_id FROM pack_blobs x
                        WHERE x.user_id = $1 AND x.content_hash = ANY($2::TEXT[]))
         ORDER BY p.id, pb.byte_offset",
    )
    .bind(user_id)
    .bind(&hex)
    .bind(since)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    let mut out: Vec<(Uuid, i64, Vec<PackedBlob>)> = Vec::new();
    let mut broken: Vec<Uuid> = Vec::new();
    for (id, size, hash, offset, length) in rows {
        if out.last().is_none_or(|(last, _, _)| *last != id) {
            out.push((id, size, Vec::new()));
        }
        let blob = ContentHash::parse(&hash).ok().zip(offset.zip(length));
        match (blob, out.last_mut()) {
            (Some((content_hash, (offset, length))), Some((_, _, blobs))) => {
                blobs.push(PackedBlob {
                    content_hash,
                    offset,
                    length,
                })
            }
            // A row without its place (a pack written before indexes were kept): the pack
            // is not handed out again.
            _ => broken.push(id),
        }
    }
    out.retain(|(id, _, _)| !broken.contains(id));
    Ok(out)
}

/// Of `packs`, those whose rows are still there, read `FOR SHARE` (waiting for a
/// collection that is deleting one): the packs that may be handed out again now.
pub async fn hold(pool: &PgPool, packs: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let held: Vec<Uuid> = super::query_scalar(
        "SELECT id FROM packs WHERE id = ANY($1::UUID[]) ORDER BY id FOR SHARE",
    )
    .bind(packs)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(held)
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
