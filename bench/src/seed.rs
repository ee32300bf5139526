//! Big vaults straight into Postgres, set-based: one statement per table whatever the
//! number of files, consistent with what the handlers would have written (`file_state` with
//! its case key and change sequence, one `file_versions` row per file, the verified blob of
//! each hash, the user's change counter, vault size, note count and stored bytes).
//!
//! Seeded blobs are recorded as verified but have no S3 object: nothing the benchmarks do
//! reads their bytes (`pull` only presigns, `push` of known bytes asks for no upload).

use sqlx::PgPool;
use steel_core::domain::{DeviceId, UserId};

/// A file as the benchmark tracks it: its current version, hash and size.
#[derive(Debug, Clone)]
pub struct FileRec {
    pub path: String,
    pub version: i64,
    pub hash: String,
    pub size: i64,
}

/// Adds `count` files (version 1, written by `device`) to the user's vault, with the
/// change sequence values after the user's current one. Returns the files in change order.
pub async fn seed_files(
    pool: &PgPool,
    user_id: UserId,
    device_id: DeviceId,
    prefix: &str,
    count: i64,
) -> anyhow::Result<Vec<FileRec>> {
    let mut tx = pool.begin().await?;
    let (start,): (i64,) = sqlx::query_as("SELECT change_seq FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    // 100 folders, note sizes 200 B to 8 KB: a plain Markdown vault.
    sqlx::query(
        "INSERT INTO file_state (user_id, path, path_key, version, content_hash, size_bytes,
                                 is_deleted, updated_at, updated_by, change_seq)
         SELECT $1, f.path, lower(f.path), 1,
                encode(sha256(convert_to(f.path || ' seeded', 'UTF8')), 'hex'),
                200 + (g * 7919) % 8000, false, now(), $2, $4 + g
         FROM generate_series(1, $5::BIGINT) AS g,
              LATERAL (SELECT format('%s/folder-%s/note-%s.md', $3::TEXT,
                                     lpad((g % 100)::TEXT, 2, '0'),
                                     lpad(g::TEXT, 6, '0')) AS path) AS f",
    )
    .bind(user_id)
    .bind(device_id)
    .bind(prefix)
    .bind(start)
    .bind(count)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO file_versions (user_id, path, version, content_hash, size_bytes, is_deleted,
                                    device_id, change_seq, created_at)
         SELECT user_id, path, version, content_hash, size_bytes, false, updated_by, change_seq,
                updated_at
         FROM file_state WHERE user_id = $1 AND change_seq > $2",
    )
    .bind(user_id)
    .bind(start)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO blobs (user_id, content_hash, size_bytes)
         SELECT user_id, content_hash, size_bytes FROM file_state
         WHERE user_id = $1 AND change_seq > $2
         ON CONFLICT (user_id, content_hash) DO NOTHING",
    )
    .bind(user_id)
    .bind(start)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE users SET change_seq = $2 + $3,
                vault_size = (SELECT COALESCE(SUM(size_bytes), 0)::BIGINT FROM file_state
                              WHERE user_id = $1 AND NOT is_deleted),
                file_count = (SELECT count(*) FROM file_state
                              WHERE user_id = $1 AND NOT is_deleted)
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(start)
    .bind(count)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO blob_usage AS u (user_id, stored_bytes, blob_count)
         SELECT $1, COALESCE(SUM(size_bytes), 0)::BIGINT, count(*) FROM blobs WHERE user_id = $1
         ON CONFLICT (user_id) DO UPDATE SET
             stored_bytes = EXCLUDED.stored_bytes, blob_count = EXCLUDED.blob_count",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT path, version, content_hash, size_bytes FROM file_state
         WHERE user_id = $1 AND change_seq > $2 ORDER BY change_seq",
    )
    .bind(user_id)
    .bind(start)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(path, version, hash, size)| FileRec {
            path,
            version,
            hash,
            size,
        })
        .collect())
}

/// Fresh planner statistics after seeding, as a production database would have.
pub async fn analyze(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("ANALYZE users, devices, file_state, file_versions, blobs")
        .execute(pool)
        .await?;
    Ok(())
}

/// What [`seed_year_of_history`] made.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// Version rows in the history.
    pub versions: i64,
    /// Notes deleted 120 days ago (older than the tombstone retention).
    pub old_tombstones: i64,
}

/// Gives every note of the user (seeded at version 1 by [`seed_files`]) a year of history:
/// version 1 from 400 days ago, 2 from 380, 3 from 200, 4 (current) from 10 days ago, each
/// with bytes of its own; every tenth note was then deleted 120 days ago (version 5). Every
/// version's blob is recorded as verified 400 days ago (no S3 object, as in `seed_files`).
/// The user's counters are recomputed. Set-based: a few statements whatever the size.
pub async fn seed_year_of_history(pool: &PgPool, user_id: UserId) -> anyhow::Result<History> {
    let mut tx = pool.begin().await?;
    for sql in [
        "UPDATE file_versions SET created_at = now() - interval '400 days' WHERE user_id = $1",
        "INSERT INTO file_versions (user_id, path, version, content_hash, size_bytes, is_deleted,
                                    device_id, change_seq, created_at)
         SELECT f.user_id, f.path, v.n,
                encode(sha256(convert_to(f.path || ' v' || v.n, 'UTF8')), 'hex'),
                f.size_bytes + v.n, false, f.updated_by, f.change_seq, now() - v.age
         FROM file_state f,
              (VALUES (2, interval '380 days'), (3, interval '200 days'),
                      (4, interval '10 days')) AS v(n, age)
         WHERE f.user_id = $1",
        // Version 4 computed again from the row itself (the same expressions as the insert
        // above; now() is the transaction's start): a join with file_versions, planned on
        // the statistics of nearly empty tables, ran for 17 minutes on a fresh database.
        "UPDATE file_state SET version = 4,
                content_hash = encode(sha256(convert_to(path || ' v4', 'UTF8')), 'hex'),
                size_bytes = size_bytes + 4, updated_at = now() - interval '10 days'
         WHERE user_id = $1",
        "ANALYZE file_state",
        "ANALYZE file_versions",
        "INSERT INTO file_versions (user_id, path, version, content_hash, size_bytes, is_deleted,
                                    device_id, change_seq, created_at)
         SELECT user_id, path, 5, content_hash, size_bytes, true, updated_by, change_seq,
                now() - interval '120 days'
         FROM file_state WHERE user_id = $1 AND change_seq % 10 = 0",
        "UPDATE file_state SET version = 5, is_deleted = true,
                deleted_at = now() - interval '120 days', updated_at = now() - interval '120 days'
         WHERE user_id = $1 AND change_seq % 10 = 0",
        "INSERT INTO blobs (user_id, content_hash, size_bytes, verified_at)
         SELECT DISTINCT ON (content_hash) user_id, content_hash, size_bytes,
                now() - interval '400 days'
         FROM file_versions WHERE user_id = $1
         ON CONFLICT (user_id, content_hash) DO UPDATE SET verified_at = EXCLUDED.verified_at",
        "UPDATE users SET
             vault_size = (SELECT COALESCE(SUM(size_bytes), 0)::BIGINT FROM file_state
                           WHERE user_id = $1 AND NOT is_deleted),
             file_count = (SELECT count(*) FROM file_state WHERE user_id = $1 AND NOT is_deleted)
         WHERE id = $1",
        "INSERT INTO blob_usage AS u (user_id, stored_bytes, blob_count)
         SELECT $1, COALESCE(SUM(size_bytes), 0)::BIGINT, count(*) FROM blobs WHERE user_id = $1
         ON CONFLICT (user_id) DO UPDATE SET
             stored_bytes = EXCLUDED.stored_bytes, blob_count = EXCLUDED.blob_count",
    ] {
        let statement = sqlx::query(sql);
        let statement = if sql.contains("$1") {
            statement.bind(user_id)
        } else {
            statement
        };
        statement.execute(&mut *tx).await?;
    }
    let (versions, old_tombstones): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM file_versions WHERE user_id = $1),
                (SELECT count(*) FROM file_state WHERE user_id = $1 AND is_deleted)",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(History {
        versions,
        old_tombstones,
    })
}
