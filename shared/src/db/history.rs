//! Reading what the server kept: a note's versions, the user's deleted notes, and the
//! versions a restore brings back. Each read is one statement, whatever the vault's size.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::domain::{ContentHash, DeviceId, UserId, VaultPath};

/// The device that made a change, as history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub device_id: DeviceId,
    /// The device's current name; `None` once the device is removed.
    pub device_name: Option<String>,
}

fn author(id: Option<DeviceId>, name: Option<String>, removed: bool) -> Option<Author> {
    id.map(|device_id| Author {
        device_id,
        device_name: name.filter(|_| !removed),
    })
}

/// One version of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
    pub created_at: DateTime<Utc>,
    pub author: Option<Author>,
}

#[derive(FromRow)]
struct VersionRow {
    version: i64,
    #[sqlx(try_from = "String")]
    content_hash: ContentHash,
    size_bytes: i64,
    is_deleted: bool,
    created_at: DateTime<Utc>,
    device_id: Option<DeviceId>,
    device_name: Option<String>,
    device_removed: bool,
}

/// The versions of `path` below `below` (all when `None`), newest first, at most `limit`.
pub async fn versions(
    pool: &PgPool,
    user_id: UserId,
    path: &VaultPath,
    below: Option<i64>,
    limit: u32,
) -> Result<Vec<VersionEntry>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let rows: Vec<VersionRow> = super::query_as(
        "SELECT v.version, v.content_hash, v.size_bytes, v.is_deleted, v.created_at,
                v.device_id, d.device_name, (d.removed_at IS NOT NULL) AS device_removed
         FROM file_versions v LEFT JOIN devices d ON d.id = v.device_id
         WHERE v.user_id = $1 AND v.path = $2 AND ($3::BIGINT IS NULL OR v.version < $3)
         ORDER BY v.version DESC
         LIMIT $4",
    )
    .bind(user_id)
    .bind(path.as_str())
    .bind(below)
    .bind(i64::from(limit))
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(rows
        .into_iter()
        .map(|r| VersionEntry {
            version: r.version,
            content_hash: r.content_hash,
            size_bytes: r.size_bytes,
            is_deleted: r.is_deleted,
            created_at: r.created_at,
            author: author(r.device_id, r.device_name, r.device_removed),
        })
        .collect())
}

/// A deleted note and what a restore would bring back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedNote {
    pub path: VaultPath,
    /// The tombstone's version.
    pub version: i64,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by: Option<Author>,
    /// The change sequence value of the tombstone (the listing's order).
    pub change_seq: i64,
    /// The last live version: (version, hash, size), and whether its bytes are stored.
    pub last_live: Option<(i64, ContentHash, i64, bool)>,
}

#[derive(FromRow)]
struct DeletedRow {
    #[sqlx(try_from = "String")]
    path: VaultPath,
    version: i64,
    deleted_at: Option<DateTime<Utc>>,
    updated_by: Option<DeviceId>,
    device_name: Option<String>,
    device_removed: bool,
    change_seq: i64,
    live_version: Option<i64>,
    live_hash: Option<String>,
    live_size: Option<i64>,
    live_stored: Option<bool>,
}

/// The user's deleted notes whose tombstone is below `below` in the change sequence (all
/// when `None`), most recently deleted first, at most `limit`.
pub async fn deleted_notes(
    pool: &PgPool,
    user_id: UserId,
    below: Option<i64>,
    limit: u32,
) -> Result<Vec<DeletedNote>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let rows: Vec<DeletedRow> = super::query_as(
        "SELECT f.path, f.version, f.deleted_at, f.updated_by, d.device_name,
                (d.removed_at IS NOT NULL) AS device_removed, f.change_seq,
                l.version AS live_version, l.content_hash AS live_hash,
                l.size_bytes AS live_size,
                EXISTS (SELECT 1 FROM blobs b
                        WHERE b.user_id = f.user_id AND b.content_hash = l.content_hash)
                    AS live_stored
         FROM file_state f
         LEFT JOIN devices d ON d.id = f.updated_by
         LEFT JOIN LATERAL (
             SELECT v.version, v.content_hash, v.size_bytes FROM file_versions v
             WHERE v.user_id = f.user_id AND v.path = f.path AND NOT v.is_deleted
             ORDER BY v.version DESC LIMIT 1
         ) l ON TRUE
         WHERE f.user_id = $1 AND f.is_deleted AND ($2::BIGINT IS NULL OR f.change_seq < $2)
         ORDER BY f.change_seq DESC
         LIMIT $3",
    )
    .bind(user_id)
    .bind(below)
    .bind(i64::from(limit))
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(rows
        .into_iter()
        .map(|r| DeletedNote {
            last_live: match (r.live_version, r.live_hash, r.live_size) {
                (Some(v), Some(h), Some(s)) => ContentHash::parse(&h)
                    .ok()
                    .map(|h| (v, h, s, r.live_stored.unwrap_or(false))),
                _ => None,
            },
            deleted_by: author(r.updated_by, r.device_name, r.device_removed),
            path: r.path,
            version: r.version,
            deleted_at: r.deleted_at,
            change_seq: r.change_seq,
        })
        .collect())
}

/// Which of `hashes` have a verified blob, locked against deletion (share mode) until the
/// transaction ends: bytes a restore brings back cannot be collected under it.
pub async fn lock_stored(
    conn: &mut PgConnection,
    user_id: UserId,
    hashes: &[ContentHash],
) -> Result<HashSet<ContentHash>, sqlx::Error> {
    let hex: Vec<String> = hashes.iter().map(ContentHash::to_hex).collect();
    let rows: Vec<String> = super::query_scalar(
        "SELECT content_hash FROM blobs
         WHERE user_id = $1 AND content_hash = ANY($2::TEXT[])
         ORDER BY content_hash
         FOR SHARE",
    )
    .bind(user_id)
    .bind(&hex)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|h| ContentHash::parse(&h).ok())
        .collect())
}

/// How many tombstones the user's vault got since `since`, and how many notes are live.
pub async fn deletion_counts(
    conn: &mut PgConnection,
    user_id: UserId,
    since: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    super::query_as(
        "SELECT (SELECT count(*) FROM file_versions
                 WHERE user_id = $1 AND created_at > $2 AND is_deleted),
                (SELECT file_count FROM users WHERE id = $1)",
    )
    .bind(user_id)
    .bind(since)
    .fetch_one(conn)
    .await
}
