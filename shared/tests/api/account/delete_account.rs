//! `DELETE /account`: every row and object of the user goes, nobody else's.

use serde_json::json;
use sqlx::PgPool;

use super::sync_note;
use crate::support::{SignedIn, TestApp, oracle};

/// Anna with three notes, Bob with one.
async fn anna_and_bob(app: &TestApp) -> (SignedIn, SignedIn) {
    let anna = app.sign_in("anna-del", "iPhone").await;
    let bob = app.sign_in("bob-del", "Mac").await;
    for i in 0..3 {
        sync_note(
            app,
            &anna.device,
            &format!("n{i}.md"),
            format!("anna {i}").as_bytes(),
        )
        .await;
    }
    sync_note(app, &bob.device, "bob.md", b"bob's note").await;
    (anna, bob)
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleting_the_account_needs_the_confirmation(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (anna, _) = anna_and_bob(&app).await;

    let missing = app.delete_account(&anna, json!({})).await;
    assert_eq!((missing.status, missing.code()), (400, "missing_field"));
    let wrong = app.delete_account(&anna, json!({"confirm": "yes"})).await;
    assert_eq!((wrong.status, wrong.code()), (400, "confirmation_required"));
    assert_eq!(app.user_keys(anna.device.user_id).await.len(), 3);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleting_the_account_leaves_no_row_and_no_object(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (anna, _) = anna_and_bob(&app).await;
    let anna_id = anna.device.user_id;

    let done = app
        .delete_account(&anna, json!({"confirm": "DELETE"}))
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["objects_deleted"], 3);
    assert_eq!(done.body["purge_complete"], true);
    assert!(
        oracle::rows_of(&pool, anna_id)
            .await
            .iter()
            .all(|(_, n)| *n == 0),
        "{:?}",
        oracle::rows_of(&pool, anna_id).await
    );
    assert!(app.user_keys(anna_id).await.is_empty());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleting_an_account_touches_no_one_else(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (anna, bob) = anna_and_bob(&app).await;

    app.delete_account(&anna, json!({"confirm": "DELETE"}))
        .await;
    assert!(
        oracle::rows_of(&pool, bob.device.user_id)
            .await
            .iter()
            .all(|(_, n)| *n >= 1)
    );
    assert_eq!(app.user_keys(bob.device.user_id).await.len(), 1);
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_deleted_accounts_tokens_stop_and_a_new_login_starts_empty(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (anna, _) = anna_and_bob(&app).await;
    app.delete_account(&anna, json!({"confirm": "DELETE"}))
        .await;

    let old = app.state(&anna, &[]).await;
    assert_eq!(old.status, 401);
    assert_eq!(app.refresh(&anna.refresh_token).await.status, 401);
    // The same Apple id signs in again: a new, empty account.
    let again = app.sign_in("anna-del", "iPhone").await;
    assert_ne!(again.body["user_id"], anna.body["user_id"]);
    let fresh = app.account(&again).await;
    assert_eq!(fresh.body["file_count"], 0);
    assert_eq!(fresh.body["vault_size"], 0);
}
