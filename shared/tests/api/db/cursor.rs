//! The cursor property under concurrent writers.

use std::collections::BTreeMap;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use steel_core::db::{files, users};
use steel_core::domain::Cursor;

use super::{CommitOutcome, DeleteOutcome, commit_one, delete_one, hash, path};
use crate::support::{oracle, seed};

/// The property the whole sync rests on: a reader that follows the cursor while writers
/// commit concurrently sees every change. Its union of changes equals the final state.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn cursor_reader_never_misses_a_concurrent_change(
    opts: PgPoolOptions,
    connect: PgConnectOptions,
) {
    const WRITERS: u64 = 6;
    const OPS: u64 = 60;
    const PATHS: u64 = 12;
    let pool = opts
        .max_connections(12)
        .connect_with(connect)
        .await
        .expect("pool");
    let u = seed::user(&pool, "cursor").await;

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            let mut rng = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(w + 1);
            let mut commits = 0;
            for op in 0..OPS {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let p = path(&format!("f{}.md", rng % PATHS));
                let current = oracle::file_row(&pool, u, &p).await;
                let base = current.as_ref().map_or(0, |r| r.version);
                let outcome =
                    if rng.is_multiple_of(5) && current.as_ref().is_some_and(|r| !r.is_deleted) {
                        matches!(
                            delete_one(&pool, u, None, &p, base).await,
                            DeleteOutcome::Deleted(_)
                        )
                    } else {
                        let content = format!("writer {w} op {op}");
                        let outcome = commit_one(
                            &pool,
                            u,
                            None,
                            &p,
                            base,
                            &hash(&content),
                            content.len() as i64,
                        )
                        .await;
                        matches!(outcome, CommitOutcome::Committed(_))
                    };
                if outcome {
                    commits += 1;
                }
                if op.is_multiple_of(7) {
                    tokio::task::yield_now().await;
                }
            }
            commits
        }));
    }

    let reader = {
        let pool = pool.clone();
        let writers_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = writers_done.clone();
        let handle = tokio::spawn(async move {
            let mut cursor = Cursor::START;
            let mut view: BTreeMap<String, (i64, bool, String)> = BTreeMap::new();
            let mut polls = 0u64;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                // Drain everything visible now, page by page.
                loop {
                    let page = files::get_vault_state(&pool, u, cursor, 5)
                        .await
                        .expect("poll");
                    polls += 1;
                    for f in &page.files {
                        assert!(
                            f.change_seq > cursor.seq(),
                            "a change at or below the cursor came back"
                        );
                        view.insert(
                            f.path.to_string(),
                            (f.version, f.is_deleted, f.content_hash.to_hex()),
                        );
                    }
                    assert!(page.cursor >= cursor, "cursor went backwards");
                    cursor = page.cursor;
                    if !page.has_more {
                        break;
                    }
                }
                if finished {
                    return (view, polls);
                }
                tokio::task::yield_now().await;
            }
        });
        (handle, writers_done)
    };

    let mut commits = 0;
    for w in writers {
        commits += w.await.expect("writer");
    }
    reader.1.store(true, std::sync::atomic::Ordering::SeqCst);
    let (view, polls) = reader.0.await.expect("reader");
    assert!(
        polls > 10,
        "the reader polled while writers ran ({polls} polls)"
    );

    let final_state: BTreeMap<String, (i64, bool, String)> =
        sqlx::query_as::<_, (String, i64, bool, String)>(
            "SELECT path, version, is_deleted, content_hash FROM file_state WHERE user_id = $1",
        )
        .bind(u)
        .fetch_all(&pool)
        .await
        .expect("final")
        .into_iter()
        .map(|(p, v, d, h)| (p, (v, d, h)))
        .collect();
    assert_eq!(view, final_state);

    // Every committed write got its own sequence value and a history row.
    let (seq, versions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT change_seq FROM users WHERE id = $1), (SELECT count(*) FROM file_versions WHERE user_id = $1)",
    )
    .bind(u)
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(seq, commits);
    assert_eq!(versions, commits);
    let size: i64 = users::get_user(&pool, u)
        .await
        .expect("u")
        .expect("u")
        .vault_size;
    assert_eq!(size, oracle::live_size(&pool, u).await);
}
