//! Batch commits (`commit_versions`): each file gets its own outcome, within the quota, in
//! one transaction.

use sqlx::PgPool;
use steel_core::db::{devices, users};
use steel_core::domain::{Cursor, DeviceId, UserId};

use super::{CommitOutcome, NewVersion, commit_versions, hash, path, phone};
use crate::support::{oracle, seed};

fn nv(p: &str, base: i64, content: &str, size: i64) -> NewVersion {
    NewVersion {
        path: path(p),
        base_version: base,
        content_hash: hash(content),
        size_bytes: size,
    }
}

async fn device(pool: &PgPool, u: UserId) -> DeviceId {
    devices::register_device(pool, u, &phone(None))
        .await
        .expect("device")
        .id
}

/// Commits a.md (40 bytes), B.md (40) and c.md (30) under a quota of 100.
async fn first_batch(pool: &PgPool, u: UserId, d: DeviceId) -> (Vec<CommitOutcome>, Cursor) {
    commit_versions(
        pool,
        u,
        Some(d),
        &[
            nv("a.md", 0, "a", 40),
            nv("B.md", 0, "b", 40),
            nv("c.md", 0, "c", 30),
        ],
        Some(100),
    )
    .await
    .expect("commit")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_batch_commits_until_the_quota_is_reached(pool: PgPool) {
    let u = seed::user(&pool, "batch").await;
    let d = device(&pool, u).await;

    let (first, cursor) = first_batch(&pool, u, d).await;
    assert!(matches!(first[0], CommitOutcome::Committed(ref r) if r.version == 1));
    assert!(matches!(first[1], CommitOutcome::Committed(_)));
    assert_eq!(first[2], CommitOutcome::QuotaExceeded, "40 + 40 + 30 > 100");
    assert_eq!(cursor.seq(), 2, "one sequence value per committed file");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn each_file_of_a_batch_gets_its_own_outcome(pool: PgPool) {
    let u = seed::user(&pool, "batch").await;
    let d = device(&pool, u).await;
    first_batch(&pool, u, d).await;

    let (second, _) = commit_versions(
        &pool,
        u,
        Some(d),
        &[
            nv("a.md", 0, "a", 40),    // retried confirm of the first commit
            nv("b.md", 0, "x", 1),     // differs from B.md only by case
            nv("a.md.bak", 3, "y", 1), // base that never existed
            nv("B.md", 1, "b2", 10),   // shrinks: always fits
        ],
        Some(100),
    )
    .await
    .expect("commit");
    assert!(matches!(second[0], CommitOutcome::AlreadyCommitted(ref r) if r.version == 1));
    assert_eq!(
        second[1],
        CommitOutcome::CaseConflict {
            existing: path("B.md")
        }
    );
    assert_eq!(second[2], CommitOutcome::Conflict { current: None });
    assert!(matches!(second[3], CommitOutcome::Committed(ref r) if r.version == 2));
    assert_eq!(
        users::get_user(&pool, u)
            .await
            .expect("u")
            .expect("u")
            .vault_size,
        50
    );
    assert_eq!(oracle::live_size(&pool, u).await, 50);
    oracle::assert_consistent(&pool, false).await;
}

/// Another device confirming the same content from the old base is a conflict, not a retry.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_same_content_from_another_device_is_not_a_retry(pool: PgPool) {
    let u = seed::user(&pool, "batch").await;
    let d = device(&pool, u).await;
    first_batch(&pool, u, d).await;

    let other = device(&pool, u).await;
    let (third, _) = commit_versions(&pool, u, Some(other), &[nv("a.md", 0, "a", 40)], None)
        .await
        .expect("commit");
    assert!(matches!(
        third[0],
        CommitOutcome::Conflict { current: Some(_) }
    ));
}
