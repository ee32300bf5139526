//! Test oracles: reads of the database in SQL of the tests' own, independent of the queries
//! under test, and the invariants every committed state must hold. Nothing here writes.

use sqlx::PgPool;
use steel_core::db::devices::Device;
use steel_core::db::files::FileState;
use steel_core::domain::{Cursor, DeviceId, UserId, VaultPath};

const FILE_COLUMNS: &str = "path, version, content_hash, size_bytes, is_deleted, deleted_at, \
     updated_at, updated_by, change_seq";

/// The current row of `path`, tombstone or not.
pub async fn file_row(pool: &PgPool, user_id: UserId, path: &VaultPath) -> Option<FileState> {
    sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state WHERE user_id = $1 AND path = $2"
    ))
    .bind(user_id)
    .bind(path.as_str())
    .fetch_optional(pool)
    .await
    .expect("file_state row")
}

/// Tombstones written after `cursor`, oldest first.
pub async fn tombstones_since(pool: &PgPool, user_id: UserId, cursor: Cursor) -> Vec<FileState> {
    sqlx::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND change_seq > $2 AND is_deleted
         ORDER BY change_seq"
    ))
    .bind(user_id)
    .bind(cursor.seq())
    .fetch_all(pool)
    .await
    .expect("tombstones")
}

/// (version, content hash, is_deleted) of every version of `path` in the history, of any
/// user, oldest first.
pub async fn history(pool: &PgPool, path: &str) -> Vec<(i64, String, bool)> {
    sqlx::query_as(
        "SELECT version, content_hash, is_deleted FROM file_versions
         WHERE path = $1 ORDER BY version",
    )
    .bind(path)
    .fetch_all(pool)
    .await
    .expect("history")
}

/// What the vault size must be: the sizes of the live files, summed.
pub async fn live_size(pool: &PgPool, user_id: UserId) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(SUM(size_bytes), 0)::BIGINT FROM file_state
         WHERE user_id = $1 AND NOT is_deleted",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await
    .expect("live size")
}

/// The stored `users.vault_size` (of the only user when `user_id` is `None`).
pub async fn vault_size(pool: &PgPool, user_id: Option<UserId>) -> i64 {
    sqlx::query_scalar("SELECT vault_size FROM users WHERE $1::UUID IS NULL OR id = $1")
        .bind(user_id)
        .fetch_one(pool)
        .await
        .expect("vault size")
}

/// The device row, removed or not, if it is the user's.
pub async fn device(pool: &PgPool, user_id: UserId, device_id: DeviceId) -> Option<Device> {
    sqlx::query_as(
        "SELECT id, user_id, device_name, platform, push_token, push_environment,
                push_token_updated_at, created_at, last_seen_at, removed_at
         FROM devices WHERE id = $1 AND user_id = $2",
    )
    .bind(device_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await
    .expect("device row")
}

/// The push token stored for a device.
pub async fn push_token(pool: &PgPool, device_id: DeviceId) -> Option<String> {
    sqlx::query_scalar("SELECT push_token FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_one(pool)
        .await
        .expect("push token")
}

/// Users whose account purge is recorded but not finished, oldest request first.
pub async fn pending_purges(pool: &PgPool) -> Vec<UserId> {
    sqlx::query_scalar(
        "SELECT user_id FROM account_purges WHERE purged_at IS NULL ORDER BY requested_at",
    )
    .fetch_all(pool)
    .await
    .expect("pending purges")
}

/// How many rows of each table of user data belong to the user.
pub async fn rows_of(pool: &PgPool, user_id: UserId) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for (table, column) in [
        ("users", "id"),
        ("devices", "user_id"),
        ("refresh_tokens", "user_id"),
        ("file_state", "user_id"),
        ("file_versions", "user_id"),
        ("blobs", "user_id"),
    ] {
        let n: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {column} = $1"))
                .bind(user_id)
                .fetch_one(pool)
                .await
                .expect("count");
        out.push((table, n));
    }
    out
}

/// `SELECT count(*) FROM <table>`.
pub async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count")
}

/// What is inconsistent in every user's committed state, one line per problem: where
/// `users.change_seq` is not the newest `file_state.change_seq` (every sequence value names
/// a written row, or a tombstone the janitor compacted), the stored vault size is not the
/// sum of the live sizes, the live-note count or the stored bytes are not what they count, a current row is
/// not the newest version of its history, or (with `blobs`) a version in the history has no
/// verified blob.
pub async fn inconsistencies(pool: &PgPool, blobs: bool) -> Vec<(UserId, String)> {
    sqlx::query_as(
        "SELECT u.id, 'change_seq ' || u.change_seq || ' but newest change '
                      || COALESCE(MAX(f.change_seq), 0) || ', compacted ' || u.compacted_seq
         FROM users u LEFT JOIN file_state f ON f.user_id = u.id
         GROUP BY u.id
         HAVING u.change_seq <> GREATEST(COALESCE(MAX(f.change_seq), 0), u.compacted_seq)
         UNION ALL
         SELECT u.id, 'file_count ' || u.file_count || ' but live files '
                      || count(f.path) FILTER (WHERE NOT f.is_deleted)
         FROM users u LEFT JOIN file_state f ON f.user_id = u.id
         GROUP BY u.id
         HAVING u.file_count <> count(f.path) FILTER (WHERE NOT f.is_deleted)
         UNION ALL
         SELECT u.id, 'stored_bytes ' || COALESCE(MAX(c.stored_bytes), 0) || ' but blobs hold '
                      || COALESCE(SUM(b.size_bytes), 0)
         FROM users u LEFT JOIN blobs b ON b.user_id = u.id
         LEFT JOIN blob_usage c ON c.user_id = u.id
         GROUP BY u.id
         HAVING COALESCE(MAX(c.stored_bytes), 0) <> COALESCE(SUM(b.size_bytes), 0)
         UNION ALL
         SELECT u.id, 'vault_size ' || u.vault_size || ' but live files hold '
                      || COALESCE(SUM(f.size_bytes) FILTER (WHERE NOT f.is_deleted), 0)
         FROM users u LEFT JOIN file_state f ON f.user_id = u.id
         GROUP BY u.id
         HAVING u.vault_size <> COALESCE(SUM(f.size_bytes) FILTER (WHERE NOT f.is_deleted), 0)
         UNION ALL
         SELECT f.user_id, f.path || ' v' || f.version || ' is not the newest history row'
         FROM file_state f
         LEFT JOIN LATERAL (
             SELECT v.version, v.content_hash, v.is_deleted, v.change_seq FROM file_versions v
             WHERE v.user_id = f.user_id AND v.path = f.path ORDER BY v.version DESC LIMIT 1
         ) h ON TRUE
         WHERE (f.version, f.content_hash, f.is_deleted, f.change_seq)
               IS DISTINCT FROM (h.version, h.content_hash, h.is_deleted, h.change_seq)
         UNION ALL
         SELECT v.user_id, v.path || ' v' || v.version || ' has no verified blob'
         FROM file_versions v
         WHERE $1 AND NOT EXISTS (SELECT 1 FROM blobs b
                                  WHERE b.user_id = v.user_id AND b.content_hash = v.content_hash)",
    )
    .bind(blobs)
    .fetch_all(pool)
    .await
    .expect("invariants")
}

/// Panics unless every user's committed state is consistent (see [`inconsistencies`]).
pub async fn assert_consistent(pool: &PgPool, blobs: bool) {
    let broken = inconsistencies(pool, blobs).await;
    assert!(broken.is_empty(), "inconsistent state: {broken:?}");
}
