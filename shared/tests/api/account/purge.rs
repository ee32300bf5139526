//! The purge of a deleted account's objects: a purge cut short is finished by its retry.

use serde_json::json;
use sqlx::PgPool;

use super::sync_note;
use crate::support::events::sqs_message;
use crate::support::{TestApp, TestDevice, oracle};

/// A user with five notes whose account rows are deleted, and whose purge died after two
/// pages of two keys.
async fn interrupted_purge(app: &TestApp) -> (TestDevice, (u64, bool)) {
    let dev = app.new_user_device("purge").await;
    for i in 0..5 {
        sync_note(
            app,
            &dev,
            &format!("p{i}.md"),
            format!("note {i}").as_bytes(),
        )
        .await;
    }
    assert!(
        steel_core::db::account::delete_account(&app.db, dev.user_id)
            .await
            .expect("delete")
    );
    let partial = steel_core::purge::purge(&app.functions.account, dev.user_id, 2, 2)
        .await
        .expect("partial");
    (dev, partial)
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_interrupted_purge_stays_pending_with_the_rest_of_the_objects(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (dev, (deleted, complete)) = interrupted_purge(&app).await;

    assert_eq!((deleted, complete), (4, false));
    assert_eq!(app.user_keys(dev.user_id).await.len(), 1);
    assert_eq!(oracle::pending_purges(&pool).await, vec![dev.user_id]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_retried_purge_request_finishes_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (dev, _) = interrupted_purge(&app).await;

    // The queued request, retried (beside a record that is not JSON): the rest goes, the
    // purge is recorded as done.
    let retry = sqs_message(
        "purge-1",
        &json!({"purge_user_id": dev.user_id}).to_string(),
    );
    let junk = sqs_message("junk", "{");
    let response = app.deliver_purges(vec![retry, junk]).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(app.user_keys(dev.user_id).await.is_empty());
    assert!(oracle::pending_purges(&pool).await.is_empty());
    let total: i64 =
        sqlx::query_scalar("SELECT objects_deleted FROM account_purges WHERE user_id = $1")
            .bind(dev.user_id)
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(total, 5);
}
