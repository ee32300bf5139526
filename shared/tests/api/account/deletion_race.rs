//! A write racing `DELETE /account` (issue 13, defect 3; push too, since it records upload
//! grants): the write passed the bearer check, then the account went. It answers 401
//! `invalid_token` (the account is gone, as the next request would learn), never a 500,
//! and nothing of it is left behind.
//!
//! The race is made deterministic: the test holds the user's row locked, lets the write run
//! into that lock, deletes the user and commits; only then can the write go on.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{Answer, TestApp, TestDevice, oracle};
use crate::vault::entry;

/// Runs `write` while the test deletes the user under it; the write's answer.
async fn race_with_deletion(
    pool: &PgPool,
    dev: &TestDevice,
    write: impl Future<Output = Answer>,
) -> Answer {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(dev.user_id)
        .execute(&mut *tx)
        .await
        .expect("lock the user");
    let delete = async {
        // Wait until the write is blocked on the user's row, then delete the account.
        let mut waited = Duration::ZERO;
        loop {
            let blocked: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(pool)
            .await
            .expect("activity");
            if blocked > 0 {
                break;
            }
            assert!(
                waited < Duration::from_secs(20),
                "the write never reached the lock"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += Duration::from_millis(10);
        }
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(dev.user_id)
            .execute(&mut *tx)
            .await
            .expect("delete");
        tx.commit().await.expect("commit");
    };
    let (answer, ()) = tokio::join!(write, delete);
    answer
}

fn files(n: usize, tag: &str) -> Value {
    let files: Vec<Value> = (0..n)
        .map(|i| entry(&format!("race/{i}.md"), 0, format!("{tag} {i}").as_bytes()))
        .collect();
    json!({ "files": files })
}

/// Pushes and uploads `body`'s files.
async fn uploaded(app: &TestApp, dev: &TestDevice, body: &Value, tag: &str) {
    let pushed = app.push(dev, body.clone()).await;
    for (i, up) in pushed.body["uploads"]
        .as_array()
        .expect("uploads")
        .iter()
        .enumerate()
    {
        if !up["upload_url"].is_null() {
            let bytes = format!("{tag} {i}");
            assert!(app.upload(up, bytes.as_bytes()).await.status().is_success());
        }
    }
}

fn assert_gone(answer: &Answer) {
    assert_eq!(
        (answer.status, answer.code()),
        (401, "invalid_token"),
        "{:?}",
        answer.body
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirm_of_new_bytes_racing_the_deletion_is_a_401(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("racer").await;
    let body = files(50, "new");
    uploaded(&app, &dev, &body, "new").await;
    // The write blocks recording the verified blobs (a key-share lock on the user's row).
    let answer = race_with_deletion(&pool, &dev, app.confirm(&dev, body)).await;
    assert_gone(&answer);
    assert_eq!(
        oracle::rows_of(&pool, dev.user_id)
            .await
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>(),
        0
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirm_of_known_bytes_racing_the_deletion_is_a_401(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("racer").await;
    // The same bytes under other paths: their blobs are verified, so the confirm goes
    // straight to the commit and blocks locking the user's row.
    let body = files(50, "known");
    uploaded(&app, &dev, &body, "known").await;
    assert_eq!(app.confirm(&dev, body).await.status, 200);
    let again: Vec<Value> = (0..50)
        .map(|i| entry(&format!("copy/{i}.md"), 0, format!("known {i}").as_bytes()))
        .collect();
    let answer =
        race_with_deletion(&pool, &dev, app.confirm(&dev, json!({ "files": again }))).await;
    assert_gone(&answer);
    assert_eq!(
        oracle::rows_of(&pool, dev.user_id)
            .await
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>(),
        0
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_delete_racing_the_deletion_is_a_401(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("racer").await;
    app.sync_up(&dev, "d.md", 0, b"doomed").await;
    let body = json!({"files": [{"path": "d.md", "base_version": 1}]});
    let answer = race_with_deletion(&pool, &dev, app.delete(&dev, body)).await;
    assert_gone(&answer);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_racing_the_deletion_is_a_401(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("racer").await;
    // A spent upload grant (its content confirmed), which the next push deletes: were that
    // row locked before the user's, the deletion's cascade and the push would deadlock.
    app.sync_up(&dev, "a.md", 0, b"confirmed").await;
    let body = json!({ "files": [entry("b.md", 0, b"new bytes")] });
    let answer = race_with_deletion(&pool, &dev, app.push(&dev, body)).await;
    assert_gone(&answer);
    let grants: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_grants WHERE user_id = $1")
        .bind(dev.user_id)
        .fetch_one(&pool)
        .await
        .expect("grants");
    assert_eq!(grants, 0);
}
