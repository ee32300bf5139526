//! Blobs whose bytes `confirm` has verified against their SHA-256.

use std::collections::HashMap;

use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::{ContentHash, UserId};

/// Which of `hashes` the user has a verified blob for, with the blob's size.
pub async fn verified(
    pool: &PgPool,
    user_id: UserId,
    hashes: &[ContentHash],
) -> Result<HashMap<ContentHash, i64>, sqlx::Error> {
    let hex: Vec<String> = hashes.iter().map(ContentHash::to_hex).collect();
    let mut one = super::single(pool).await?;
    let rows: Vec<(String, i64)> = super::query_as(
        "SELECT content_hash, size_bytes FROM blobs
         WHERE user_id = $1 AND content_hash = ANY($2::TEXT[])",
    )
    .bind(user_id)
    .bind(&hex)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(h, size)| Some((ContentHash::parse(&h).ok()?, size)))
        .collect())
}

/// A check of objects in the bucket under way: holds each hash's advisory lock shared, so the
/// janitor cannot delete an object between its check and its row (it takes the lock
/// exclusively, see [`crate::db::janitor::lock_unrecorded`]). Ends with [`Verifying::record`].
pub struct Verifying {
    tx: Transaction<'static, Postgres>,
    user_id: UserId,
}

impl Verifying {
    /// Takes the locks of `hashes` (in a fixed order, so two confirms cannot deadlock).
    pub async fn begin(
        pool: &PgPool,
        user_id: UserId,
        hashes: &[ContentHash],
    ) -> Result<Self, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let mut hex: Vec<String> = hashes.iter().map(ContentHash::to_hex).collect();
        hex.sort();
        super::query(&format!(
            "SELECT pg_advisory_xact_lock_shared({})
             FROM UNNEST($2::TEXT[]) WITH ORDINALITY AS t(h, i) ORDER BY i",
            crate::db::janitor::BLOB_LOCK_KEY.replace("$2", "t.h")
        ))
        .bind(user_id)
        .bind(&hex)
        .execute(&mut *tx)
        .await?;
        Ok(Verifying { tx, user_id })
    }

    /// Records the blobs found good and lets the locks go.
    pub async fn record(mut self, blobs: &[(ContentHash, i64)]) -> Result<(), sqlx::Error> {
        mark_verified(&mut *self.tx, self.user_id, blobs).await?;
        self.tx.commit().await
    }
}

/// Records blobs as verified (idempotent). Outside [`Verifying`] only for bytes known to be
/// in the bucket (tests, restores of recorded blobs).
pub async fn mark_verified(
    db: impl sqlx::PgExecutor<'_>,
    user_id: UserId,
    blobs: &[(ContentHash, i64)],
) -> Result<(), sqlx::Error> {
    if blobs.is_empty() {
        return Ok(());
    }
    let hashes: Vec<String> = blobs.iter().map(|(h, _)| h.to_hex()).collect();
    let sizes: Vec<i64> = blobs.iter().map(|(_, s)| *s).collect();
    // The new rows' bytes go to the user's stored-bytes counter in the same statement. (A
    // recorded content's upload grant stops counting by itself, see `db::uploads`: deleting
    // it here would lock grant rows before the user's row, against `DELETE /account`.)
    super::query(
        "WITH added AS (
             INSERT INTO blobs (user_id, content_hash, size_bytes)
             SELECT $1, h, s FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS t(h, s)
             ON CONFLICT (user_id, content_hash) DO NOTHING
             RETURNING size_bytes)
         INSERT INTO blob_usage AS u (user_id, stored_bytes, blob_count)
         SELECT $1, sum(size_bytes), count(*) FROM added HAVING count(*) > 0
         ON CONFLICT (user_id) DO UPDATE SET
             stored_bytes = u.stored_bytes + EXCLUDED.stored_bytes,
             blob_count = u.blob_count + EXCLUDED.blob_count",
    )
    .bind(user_id)
    .bind(&hashes)
    .bind(&sizes)
    .execute(db)
    .await?;
    Ok(())
}
