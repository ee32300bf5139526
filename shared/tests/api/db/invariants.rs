//! The consistency oracle (`support::oracle::inconsistencies`) that other tests end with:
//! it holds for what the data layer writes, and it sees each kind of broken state.

use sqlx::PgPool;
use steel_core::domain::UserId;

use super::{hash, path};
use crate::support::{oracle, seed};

/// A user with `a.md` at version 2 and `b.md` deleted, written through the data layer, and
/// a verified blob for every version.
async fn consistent(pool: &PgPool) -> UserId {
    let u = seed::user(pool, "oracle").await;
    seed::commit_one(pool, u, None, &path("a.md"), 0, &hash("a1"), 2).await;
    seed::commit_one(pool, u, None, &path("a.md"), 1, &hash("a2"), 3).await;
    seed::commit_one(pool, u, None, &path("b.md"), 0, &hash("b"), 5).await;
    // `commit_one` records each version's blob, as confirm does.
    seed::delete_one(pool, u, None, &path("b.md"), 1).await;
    u
}

/// The problems the oracle reports after `corruption`.
async fn after(pool: &PgPool, corruption: &str) -> Vec<String> {
    let u = consistent(pool).await;
    assert_eq!(oracle::inconsistencies(pool, true).await, vec![]);
    sqlx::query(corruption)
        .execute(pool)
        .await
        .expect("corrupt");
    let found = oracle::inconsistencies(pool, true).await;
    assert!(found.iter().all(|(user, _)| *user == u), "{found:?}");
    found.into_iter().map(|(_, problem)| problem).collect()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_oracle_sees_a_change_seq_without_a_change(pool: PgPool) {
    let found = after(&pool, "UPDATE users SET change_seq = change_seq + 1").await;
    assert_eq!(found, vec!["change_seq 5 but newest change 4, compacted 0"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_oracle_sees_a_vault_size_that_is_not_the_live_sizes(pool: PgPool) {
    let found = after(&pool, "UPDATE users SET vault_size = 8").await;
    assert_eq!(found, vec!["vault_size 8 but live files hold 3"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_oracle_sees_a_row_that_is_not_its_newest_version(pool: PgPool) {
    let found = after(
        &pool,
        "DELETE FROM file_versions WHERE path = 'a.md' AND version = 2",
    )
    .await;
    assert_eq!(found, vec!["a.md v2 is not the newest history row"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_oracle_sees_a_version_without_a_blob(pool: PgPool) {
    let found = after(&pool, "DELETE FROM blobs WHERE size_bytes = 2").await;
    assert_eq!(
        found,
        vec![
            "stored_bytes 10 but blobs hold 8",
            "a.md v1 has no verified blob"
        ]
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_oracle_sees_a_file_count_that_is_not_the_live_files(pool: PgPool) {
    let found = after(&pool, "UPDATE users SET file_count = 2").await;
    assert_eq!(found, vec!["file_count 2 but live files 1"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_oracle_accepts_a_change_seq_that_names_a_compacted_tombstone(pool: PgPool) {
    let u = consistent(&pool).await;
    // What the janitor does to b.md's tombstone (change 4) after its retention.
    sqlx::query("DELETE FROM file_state WHERE user_id = $1 AND path = 'b.md'")
        .bind(u)
        .execute(&pool)
        .await
        .expect("compact");
    let found = oracle::inconsistencies(&pool, true).await;
    assert_eq!(
        found,
        vec![(
            u,
            "change_seq 4 but newest change 2, compacted 0".to_owned()
        )]
    );
    sqlx::query("UPDATE users SET compacted_seq = 4 WHERE id = $1")
        .bind(u)
        .execute(&pool)
        .await
        .expect("mark");
    assert_eq!(oracle::inconsistencies(&pool, true).await, vec![]);
}
