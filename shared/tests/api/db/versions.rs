//! Versions change only through compare-and-set: a commit or a delete names the version it
//! is based on, and only the server's current version will do.

use sqlx::PgPool;
use steel_core::db::files::FileState;
use steel_core::db::{devices, users};
use steel_core::domain::{DeviceId, UserId, VaultPath};

use super::{CommitOutcome, DeleteOutcome, commit_one, delete_one, hash, path, phone};
use crate::support::{oracle, seed};

/// One device's writes to `thoughts/idea.md`.
struct Idea {
    pool: PgPool,
    u: UserId,
    d: DeviceId,
    p: VaultPath,
}

impl Idea {
    async fn new(pool: &PgPool) -> Idea {
        let u = seed::user(pool, "cas").await;
        let d = devices::register_device(pool, u, &phone(None))
            .await
            .expect("device")
            .id;
        Idea {
            pool: pool.clone(),
            u,
            d,
            p: path("thoughts/idea.md"),
        }
    }

    async fn commit(&self, base: i64, content: &str, size: i64) -> CommitOutcome {
        commit_one(
            &self.pool,
            self.u,
            Some(self.d),
            &self.p,
            base,
            &hash(content),
            size,
        )
        .await
    }

    async fn committed(&self, base: i64, content: &str, size: i64) -> FileState {
        match self.commit(base, content, size).await {
            CommitOutcome::Committed(row) => row,
            other => panic!("must commit: {other:?}"),
        }
    }

    async fn delete(&self, base: i64) -> DeleteOutcome {
        delete_one(&self.pool, self.u, Some(self.d), &self.p, base).await
    }

    /// v1 "one" (3 bytes), v2 "two" (10 bytes), v3 the tombstone.
    async fn deleted(&self) -> FileState {
        self.committed(0, "one", 3).await;
        self.committed(1, "two", 10).await;
        match self.delete(2).await {
            DeleteOutcome::Deleted(tomb) => tomb,
            other => panic!("delete must commit: {other:?}"),
        }
    }

    async fn vault_size(&self) -> i64 {
        users::get_user(&self.pool, self.u)
            .await
            .expect("u")
            .expect("u")
            .vault_size
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_new_file_commits_as_version_1(pool: PgPool) {
    let idea = Idea::new(&pool).await;

    let v1 = idea.committed(0, "one", 3).await;
    assert_eq!(
        (v1.version, v1.size_bytes, v1.updated_by),
        (1, 3, Some(idea.d))
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_base_the_server_is_not_at_is_a_conflict(pool: PgPool) {
    let idea = Idea::new(&pool).await;
    let v1 = idea.committed(0, "one", 3).await;

    // A second "new file" of the same path is a conflict that reports the server row.
    let stale = idea.commit(0, "other", 5).await;
    assert_eq!(
        stale,
        CommitOutcome::Conflict {
            current: Some(v1.clone())
        }
    );
    // A base that never existed is a conflict too, not an insert.
    let ghost = commit_one(
        &pool,
        idea.u,
        Some(idea.d),
        &path("ghost.md"),
        3,
        &hash("g"),
        1,
    )
    .await;
    assert_eq!(ghost, CommitOutcome::Conflict { current: None });
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_current_base_commits_the_next_version(pool: PgPool) {
    let idea = Idea::new(&pool).await;
    let v1 = idea.committed(0, "one", 3).await;

    let v2 = idea.committed(1, "two", 10).await;
    assert_eq!(v2.version, 2);
    assert!(v2.change_seq > v1.change_seq);
    assert_eq!(idea.vault_size().await, 10);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_delete_needs_the_current_base_and_writes_a_tombstone(pool: PgPool) {
    let idea = Idea::new(&pool).await;
    idea.committed(0, "one", 3).await;
    idea.committed(1, "two", 10).await;

    let stale_delete = idea.delete(1).await;
    assert!(
        matches!(stale_delete, DeleteOutcome::Conflict { current: ref row } if row.version == 2)
    );
    let DeleteOutcome::Deleted(tomb) = idea.delete(2).await else {
        panic!("delete must commit")
    };
    assert!(tomb.is_deleted && tomb.deleted_at.is_some());
    assert_eq!((tomb.version, tomb.content_hash), (3, hash("two")));
    assert_eq!(idea.vault_size().await, 0);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleting_again_is_success_without_a_change(pool: PgPool) {
    let idea = Idea::new(&pool).await;
    let tomb = idea.deleted().await;

    assert_eq!(idea.delete(2).await, DeleteOutcome::AlreadyDeleted(tomb));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn only_the_tombstones_version_revives_the_file(pool: PgPool) {
    let idea = Idea::new(&pool).await;
    idea.deleted().await;

    // A stale device can't resurrect it; the tombstone's version as base revives it.
    let resurrect = idea.commit(2, "old edit", 8).await;
    assert!(
        matches!(resurrect, CommitOutcome::Conflict { current: Some(ref row) } if row.is_deleted)
    );
    let revived = idea.committed(3, "back", 4).await;
    assert_eq!(
        (revived.version, revived.is_deleted, revived.deleted_at),
        (4, false, None)
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_history_keeps_every_version_and_the_row_the_newest(pool: PgPool) {
    let idea = Idea::new(&pool).await;
    idea.deleted().await;
    idea.commit(2, "old edit", 8).await;
    let revived = idea.committed(3, "back", 4).await;

    let history: Vec<(i64, String, bool)> = sqlx::query_as(
        "SELECT version, content_hash, is_deleted FROM file_versions WHERE user_id = $1 AND path = $2 ORDER BY version",
    )
    .bind(idea.u)
    .bind(idea.p.as_str())
    .fetch_all(&pool)
    .await
    .expect("history");
    assert_eq!(
        history,
        vec![
            (1, hash("one").to_hex(), false),
            (2, hash("two").to_hex(), false),
            (3, hash("two").to_hex(), true),
            (4, hash("back").to_hex(), false),
        ]
    );
    assert_eq!(idea.vault_size().await, 4);
    assert_eq!(oracle::live_size(&pool, idea.u).await, 4);
    assert_eq!(
        oracle::file_row(&pool, idea.u, &idea.p).await,
        Some(revived)
    );
    oracle::assert_consistent(&pool, false).await;
}
