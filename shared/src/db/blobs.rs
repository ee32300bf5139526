//! Blobs whose bytes `confirm` has verified against their SHA-256.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::domain::{ContentHash, UserId};

/// Which of `hashes` the user has a verified blob for, with the blob's size.
pub async fn verified(
    pool: &PgPool,
    user_id: UserId,
    hashes: &[ContentHash],
) -> Result<HashMap<ContentHash, i64>, sqlx::Error> {
    let hex: Vec<String> = hashes.iter().map(ContentHash::to_hex).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT content_hash, size_bytes FROM blobs
         WHERE user_id = $1 AND content_hash = ANY($2::TEXT[])",
    )
    .bind(user_id)
    .bind(&hex)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(h, size)| Some((ContentHash::parse(&h).ok()?, size)))
        .collect())
}

/// Records blobs as verified (idempotent).
pub async fn mark_verified(
    pool: &PgPool,
    user_id: UserId,
    blobs: &[(ContentHash, i64)],
) -> Result<(), sqlx::Error> {
    if blobs.is_empty() {
        return Ok(());
    }
    let hashes: Vec<String> = blobs.iter().map(|(h, _)| h.to_hex()).collect();
    let sizes: Vec<i64> = blobs.iter().map(|(_, s)| *s).collect();
    sqlx::query(
        "INSERT INTO blobs (user_id, content_hash, size_bytes)
         SELECT $1, h, s FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS t(h, s)
         ON CONFLICT (user_id, content_hash) DO NOTHING",
    )
    .bind(user_id)
    .bind(&hashes)
    .bind(&sizes)
    .execute(pool)
    .await?;
    Ok(())
}
