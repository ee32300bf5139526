//! What the server reads of an encrypted account's notes (README "Encrypted notes on the
//! server"): whether the account is encrypted, the stored blob of a blob id (dedupe), and
//! the sealed fields of versions. Sealed fields are written by [`super::writes`].

use std::collections::HashMap;

use sqlx::PgPool;

use crate::domain::{ContentHash, UserId, VaultPath};

/// Whether the account is end-to-end encrypted (it has a `vault_keys` row that is not
/// migrating: a migrating account is plaintext until its switch).
pub async fn is_encrypted(pool: &PgPool, user_id: UserId) -> Result<bool, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let found: Option<i64> =
        super::query_scalar("SELECT version FROM vault_keys WHERE user_id = $1 AND NOT migrating")
            .bind(user_id)
            .fetch_optional(&mut *one)
            .await?;
    one.done().await?;
    Ok(found.is_some())
}

/// For each of `blob_ids` (hex) that a version of the account names and whose blob is
/// verified: that blob's content hash and size (the newest such version's, when several).
pub async fn blobs_of_ids(
    pool: &PgPool,
    user_id: UserId,
    blob_ids: &[String],
) -> Result<HashMap<String, (ContentHash, i64)>, sqlx::Error> {
    if blob_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut one = super::single(pool).await?;
    let rows: Vec<(String, String, i64)> = super::query_as(
        "SELECT DISTINCT ON (v.blob_id) v.blob_id, b.content_hash, b.size_bytes
         FROM file_versions v
         JOIN blobs b ON b.user_id = v.user_id AND b.content_hash = v.content_hash
         WHERE v.user_id = $1 AND v.blob_id = ANY($2::TEXT[])
         ORDER BY v.blob_id, v.change_seq DESC",
    )
    .bind(user_id)
    .bind(blob_ids)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, hash, size)| Some((id, (ContentHash::parse(&hash).ok()?, size))))
        .collect())
}

/// A version's sealed fields as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSealed {
    pub sealed_path: Vec<u8>,
    pub sealed_manifest: Vec<u8>,
    pub manifest_version: i64,
    pub blob_id: String,
}

type SealedRow = (
    String,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<String>,
);

/// The sealed fields of the given (path key, version) pairs; a version without them (a
/// plaintext one) or without a row is absent.
pub async fn of_versions(
    pool: &PgPool,
    user_id: UserId,
    wanted: &[(VaultPath, i64)],
) -> Result<HashMap<(VaultPath, i64), StoredSealed>, sqlx::Error> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let paths: Vec<&str> = wanted.iter().map(|(p, _)| p.as_str()).collect();
    let versions: Vec<i64> = wanted.iter().map(|(_, v)| *v).collect();
    let mut one = super::single(pool).await?;
    let rows: Vec<SealedRow> = super::query_as(
        "SELECT v.path, v.version, v.sealed_path, v.sealed_manifest, v.manifest_version, v.blob_id
         FROM file_versions v
         JOIN UNNEST($2::TEXT[], $3::BIGINT[]) AS w(path, version)
             ON v.path = w.path AND v.version = w.version
         WHERE v.user_id = $1",
    )
    .bind(user_id)
    .bind(&paths)
    .bind(&versions)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(path, version, sp, sm, mv, id)| {
            let sealed = StoredSealed {
                sealed_path: sp?,
                sealed_manifest: sm?,
                manifest_version: mv?,
                blob_id: id?,
            };
            Some(((VaultPath::parse(&path).ok()?, version), sealed))
        })
        .collect())
}
