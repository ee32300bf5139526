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

/// A refresh whose answer was lost, sent again: the same new pair, not a theft.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_retried_refresh_gets_the_same_successor(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let r0 = rt(&mac_login(&app).await);
    let lost = app.refresh(&r0).await;
    let retry = app.refresh(&r0).await;
    assert_eq!(retry.status, 200, "{:?}", retry.body);
    assert_eq!(rt(&retry), rt(&lost), "the same successor");
    let next = app.refresh(&rt(&retry)).await;
    assert_eq!(next.status, 200, "the family lives on");
}

/// Once the successor has been used, the old token again is a replay, as before.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_retry_after_the_successor_was_used_is_a_replay(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let r0 = rt(&mac_login(&app).await);
    let r1 = rt(&app.refresh(&r0).await);
    assert_eq!(app.refresh(&r1).await.status, 200);
    let replay = app.refresh(&r0).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_reused")
    );
}

/// Past the grace period, the old token again is a replay even if its successor is unused.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_retry_after_the_grace_period_is_a_replay(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let r0 = rt(&mac_login(&app).await);
    assert_eq!(app.refresh(&r0).await.status, 200);
    sqlx::query("UPDATE refresh_tokens SET used_at = now() - interval '121 seconds' WHERE used_at IS NOT NULL")
        .execute(&pool)
        .await
        .expect("age");
    let replay = app.refresh(&r0).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_reused")
    );
}
