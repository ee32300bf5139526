//! Changes after a cursor, page by page, of one user only.

use sqlx::PgPool;
use steel_core::db::files;
use steel_core::domain::{Cursor, UserId};

use super::{hash, path};
use crate::support::{oracle, seed};

/// A user with 25 notes, `n/00.md` to `n/24.md`, then `n/03.md` deleted; and an intruder
/// with a note of its own.
async fn notes(pool: &PgPool) -> UserId {
    let u = seed::user(pool, "paging").await;
    let intruder = seed::user(pool, "intruder").await;
    seed::commit_one(pool, intruder, None, &path("secret.md"), 0, &hash("s"), 1).await;
    for i in 0..25 {
        seed::commit_one(
            pool,
            u,
            None,
            &path(&format!("n/{i:02}.md")),
            0,
            &hash(&i.to_string()),
            i,
        )
        .await;
    }
    seed::delete_one(pool, u, None, &path("n/03.md"), 1).await;
    u
}

/// Every page from `Cursor::START`, 10 at a time: the paths seen, the pages read and the
/// last cursor.
async fn read_all(pool: &PgPool, u: UserId) -> (Vec<String>, usize, Cursor) {
    let mut cursor = Cursor::START;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = files::get_vault_state(pool, u, cursor, 10)
            .await
            .expect("page");
        pages += 1;
        assert!(page.cursor >= cursor);
        assert!(
            page.files
                .windows(2)
                .all(|w| w[0].change_seq < w[1].change_seq)
        );
        seen.extend(page.files.iter().map(|f| f.path.to_string()));
        cursor = page.cursor;
        if !page.has_more {
            return (seen, pages, cursor);
        }
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn state_is_paged_in_cursor_order_and_scoped_to_the_user(pool: PgPool) {
    let u = notes(&pool).await;

    let (seen, pages, cursor) = read_all(&pool, u).await;
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25, "each path once, at its latest change");
    assert!(!seen.contains(&"secret.md".to_string()));
    // The delete came last, so n/03.md is at the end.
    assert_eq!(seen.last().map(String::as_str), Some("n/03.md"));
    assert_eq!(
        files::current_cursor(&pool, u).await.expect("head"),
        Some(cursor)
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_page_at_the_head_is_empty_and_keeps_the_cursor(pool: PgPool) {
    let u = notes(&pool).await;
    let (_, _, cursor) = read_all(&pool, u).await;

    let page = files::get_vault_state(&pool, u, cursor, 10)
        .await
        .expect("empty page");
    assert!(page.files.is_empty() && !page.has_more);
    assert_eq!(page.cursor, cursor, "no change keeps the cursor");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_delete_is_a_tombstone_after_the_cursor_it_followed(pool: PgPool) {
    let u = notes(&pool).await;
    let (_, _, cursor) = read_all(&pool, u).await;

    let tombstones = oracle::tombstones_since(&pool, u, Cursor::START).await;
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0].path.as_str(), "n/03.md");
    assert!(oracle::tombstones_since(&pool, u, cursor).await.is_empty());
    oracle::assert_consistent(&pool, false).await;
}
