//! The migrations: the schema they build, and the constraints it enforces.

use std::collections::BTreeSet;

use sqlx::PgPool;
use steel_core::db;

use crate::support::seed;

async fn columns(pool: &PgPool, table: &str) -> BTreeSet<String> {
    sqlx::query_scalar(
        "SELECT column_name::TEXT FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("columns")
    .into_iter()
    .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn migrations_build_the_expected_columns(pool: PgPool) {
    assert_eq!(
        columns(&pool, "users").await,
        set(&[
            "id",
            "provider",
            "provider_sub",
            "email",
            "vault_size",
            "change_seq",
            "created_at",
            "updated_at",
            "file_count",
            "compacted_seq",
            "compacted_until",
            "compacted_version",
        ])
    );
    assert_eq!(
        columns(&pool, "blob_usage").await,
        set(&["user_id", "stored_bytes", "blob_count"])
    );
    assert_eq!(
        columns(&pool, "devices").await,
        set(&[
            "id",
            "user_id",
            "device_name",
            "platform",
            "push_token",
            "push_environment",
            "push_token_updated_at",
            "created_at",
            "last_seen_at",
            "removed_at",
        ])
    );
    assert_eq!(
        columns(&pool, "file_state").await,
        set(&[
            "user_id",
            "path",
            "path_key",
            "version",
            "content_hash",
            "size_bytes",
            "is_deleted",
            "deleted_at",
            "updated_at",
            "updated_by",
            "change_seq",
        ])
    );
    assert_eq!(
        columns(&pool, "blobs").await,
        set(&["user_id", "content_hash", "size_bytes", "verified_at"])
    );
    assert_eq!(
        columns(&pool, "file_versions").await,
        set(&[
            "user_id",
            "path",
            "version",
            "content_hash",
            "size_bytes",
            "is_deleted",
            "device_id",
            "change_seq",
            "created_at",
            "sealed_path",
            "sealed_manifest",
            "manifest_version",
            "blob_id",
        ])
    );
    assert_eq!(
        columns(&pool, "refresh_tokens").await,
        set(&[
            "id",
            "user_id",
            "device_id",
            "family_id",
            "token_hash",
            "created_at",
            "expires_at",
            "used_at",
            "revoked_at",
        ])
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn migrations_build_the_expected_indexes(pool: PgPool) {
    let indexes: BTreeSet<String> =
        sqlx::query_scalar("SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(&pool)
            .await
            .expect("indexes")
            .into_iter()
            .collect();
    for expected in [
        "users_pkey",
        "users_provider_sub_key",
        "devices_user_id_idx",
        "devices_user_push_token_key",
        "file_state_pkey",
        "file_state_user_change_seq_key",
        "file_state_user_live_path_key",
        "file_versions_pkey",
        "refresh_tokens_token_hash_key",
        "refresh_tokens_family_idx",
        "file_state_deleted_at_idx",
        "file_versions_created_idx",
        "file_versions_user_blob_id_idx",
        "blobs_verified_idx",
    ] {
        assert!(
            indexes.contains(expected),
            "missing index {expected}: {indexes:?}"
        );
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn applying_the_migrations_again_is_a_no_op(pool: PgPool) {
    db::migrate(&pool).await.expect("re-run migrations");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_content_hash_that_is_not_sha256_hex_is_refused(pool: PgPool) {
    let u = seed::user(&pool, "constraints").await;
    let bad_hash = sqlx::query(
        "INSERT INTO file_state (user_id, path, version, content_hash, size_bytes, change_seq)
         VALUES ($1, 'a.md', 1, 'NOT-A-HASH', 1, 1)",
    )
    .bind(u)
    .execute(&pool)
    .await;
    assert!(bad_hash.is_err());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_unknown_platform_is_refused(pool: PgPool) {
    let u = seed::user(&pool, "constraints").await;
    let bad_platform = sqlx::query(
        "INSERT INTO devices (user_id, device_name, platform) VALUES ($1, 'x', 'windows')",
    )
    .bind(u)
    .execute(&pool)
    .await;
    assert!(bad_platform.is_err());
}
