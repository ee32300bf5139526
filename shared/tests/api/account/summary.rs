//! `GET /account`: storage, quota and devices of the caller's account.

use serde_json::Value;
use sqlx::PgPool;

use super::sync_note;
use crate::support::{Anonymous, SignedIn, TestApp};

/// An iPhone that synced a 12-byte note, and a Mac, both of the Apple user `acct`.
async fn phone_and_mac(app: &TestApp) -> (SignedIn, SignedIn) {
    let phone = app.sign_in("acct", "iPhone").await;
    let mac = app.sign_in("acct", "Mac").await;
    sync_note(app, &phone.device, "a.md", b"twelve bytes").await;
    (phone, mac)
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_account_shows_the_identity_and_the_storage(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (phone, mac) = phone_and_mac(&app).await;

    let answer = app.account(&mac).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["user_id"], phone.body["user_id"]);
    assert_eq!(answer.body["provider"], "apple");
    assert_eq!(answer.body["email"], "acct@privaterelay.appleid.com");
    assert_eq!(answer.body["vault_size"], 12);
    assert_eq!(answer.body["file_count"], 1);
    assert_eq!(answer.body["quota_bytes"], 1_000_000);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_account_lists_the_devices_marking_the_callers(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, mac) = phone_and_mac(&app).await;

    let answer = app.account(&mac).await;
    let devices = answer.body["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2);
    let current: Vec<&Value> = devices.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_id"], mac.body["device_id"]);
    assert!(devices.iter().all(|d| d.get("push_token").is_none()));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_account_needs_a_token(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let unauthenticated = app.account(&Anonymous).await;
    assert_eq!(unauthenticated.status, 401);
}
