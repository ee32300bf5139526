//! `POST /auth/refresh`: rotation, replay detection, expiry; only hashes are stored.

use serde_json::json;
use sqlx::PgPool;

use crate::support::idp::{apple_claims, apple_login, id_token};
use crate::support::{Answer, TestApp};

/// A login of a Mac (tokens bound to it).
async fn mac_login(app: &TestApp) -> Answer {
    app.login(
        json!({"provider": "apple", "identity_token": id_token(&apple_claims("rotating")),
                     "device": {"device_name": "Mac", "platform": "macos"}}),
    )
    .await
}

/// The refresh token of an answer.
fn rt(answer: &Answer) -> String {
    answer.body["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn refresh_rotates_the_pair_of_the_same_user_and_device(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let login = mac_login(&app).await;
    let r0 = rt(&login);

    let first = app.refresh(&r0).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["user_id"], login.body["user_id"]);
    assert_eq!(first.body["device_id"], login.body["device_id"]);
    assert_ne!(rt(&first), r0);
    let caller = app
        .state
        .tokens
        .verify_access(first.body["access_token"].as_str().expect("at"))
        .expect("valid");
    assert_eq!(
        caller.device_id.map(|d| d.to_string()),
        login.body["device_id"].as_str().map(str::to_owned)
    );
    let second = app.refresh(&rt(&first)).await;
    assert_eq!(second.status, 200);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_replayed_refresh_token_revokes_its_whole_family(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let r0 = rt(&mac_login(&app).await);
    let r1 = rt(&app.refresh(&r0).await);
    let r2 = rt(&app.refresh(&r1).await);

    // r0 again: a replay. The whole family dies, r2 included.
    let replay = app.refresh(&r0).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_reused")
    );
    let after = app.refresh(&r2).await;
    assert_eq!((after.status, after.code()), (401, "refresh_token_revoked"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn only_hashes_of_refresh_tokens_are_stored(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let r0 = rt(&mac_login(&app).await);
    let r1 = rt(&app.refresh(&r0).await);
    let r2 = rt(&app.refresh(&r1).await);

    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|h| h.len() == 32 && h != r2.as_bytes()));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn unknown_or_empty_refresh_tokens_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    mac_login(&app).await;

    let unknown = app.refresh("made-up-token").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (401, "invalid_refresh_token")
    );
    let empty = app.refresh("").await;
    assert_eq!(empty.status, 401);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn expired_refresh_tokens_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let login = app.login(apple_login("expiring")).await;
    let token = login.body["refresh_token"].as_str().expect("rt");
    sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .expect("expire");
    let answer = app.refresh(token).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "refresh_token_expired")
    );
    assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
}
