//! `POST /auth/login`: users made once per identity, tokens bound to a device, providers
//! that are down or disabled.

use std::sync::Arc;

use serde_json::json;
use sqlx::PgPool;

use crate::support::idp::{APPLE_AUDIENCE, apple_claims, apple_login, google_claims, id_token};
use crate::support::{TestApp, oracle};

fn google_login(sub: &str) -> serde_json::Value {
    json!({"provider": "google", "identity_token": id_token(&google_claims(sub))})
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_apple_login_answers_our_tokens_for_a_new_user(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let first = app.login(apple_login("001234.apple.sub")).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["expires_in"], 3600);
    assert!(first.body["device_id"].is_null());
    let user_id = first.body["user_id"].as_str().expect("user_id");
    let caller = app
        .state
        .tokens
        .verify_access(first.body["access_token"].as_str().expect("at"))
        .expect("our token");
    assert_eq!(caller.user_id.to_string(), user_id);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn logging_in_again_finds_the_same_user(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let first = app.login(apple_login("001234.apple.sub")).await;

    let second = app.login(apple_login("001234.apple.sub")).await;
    assert_eq!(second.body["user_id"], first.body["user_id"]);
    assert_ne!(second.body["refresh_token"], first.body["refresh_token"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_same_subject_at_google_is_another_user(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let apple = app.login(apple_login("001234.apple.sub")).await;

    let google = app.login(google_login("10987654321")).await;
    assert_eq!(google.status, 200, "{:?}", google.body);
    assert_ne!(google.body["user_id"], apple.body["user_id"]);
    assert_eq!(oracle::count(&pool, "users").await, 2);
    let email: Option<String> =
        sqlx::query_scalar("SELECT email FROM users WHERE provider = 'google'")
            .fetch_one(&pool)
            .await
            .expect("email");
    assert_eq!(email.as_deref(), Some("anna@example.com"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn provider_keys_are_fetched_once_then_served_from_the_cache(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.login(apple_login("001234.apple.sub")).await;
    app.login(apple_login("001234.apple.sub")).await;
    app.login(google_login("10987654321")).await;

    assert_eq!(app.idp.fetches("/apple/keys").await, 1);
    assert_eq!(app.idp.fetches("/google/certs").await, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn login_with_a_device_binds_the_tokens_to_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let answer = app
        .login(json!({
            "provider": "apple",
            "identity_token": id_token(&apple_claims("with-device")),
            "device": {"device_name": "Anna's iPhone", "platform": "ios", "push_token": "abc123", "push_environment": "sandbox"}
        }))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let device_id = answer.body["device_id"].as_str().expect("device id");
    assert_eq!(answer.body["device"]["device_id"], device_id);
    assert_eq!(answer.body["device"]["push_environment"], "sandbox");
    assert_eq!(answer.body["device"]["has_push_token"], true);
    assert!(
        answer.body["device"].get("push_token").is_none(),
        "the token itself is never echoed"
    );
    let caller = app
        .state
        .tokens
        .verify_access(answer.body["access_token"].as_str().expect("at"))
        .expect("valid");
    assert_eq!(
        caller.device_id.map(|d| d.to_string()).as_deref(),
        Some(device_id)
    );
    let bound: Option<uuid::Uuid> = sqlx::query_scalar("SELECT device_id FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .expect("token row");
    assert_eq!(bound.map(|d| d.to_string()).as_deref(), Some(device_id));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_bad_device_description_is_refused_before_anything_is_written(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.login(apple_login("with-device")).await;

    let bad = app
        .login(
            json!({"provider": "apple", "identity_token": id_token(&apple_claims("bad-device")),
                      "device": {"device_name": "x", "platform": "windows"}}),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_value"));
    assert_eq!(oracle::count(&pool, "users").await, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn concurrent_first_logins_make_one_user(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool.clone()).await);
    let body = apple_login("racer");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let app = app.clone();
        let body = body.clone();
        set.spawn(async move { app.login(body).await });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(a) = set.join_next().await {
        let a = a.expect("task");
        assert_eq!(a.status, 200, "{:?}", a.body);
        ids.insert(a.body["user_id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(oracle::count(&pool, "users").await, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn unreachable_provider_keys_are_a_503(pool: PgPool) {
    // Apple's keys at a path the stand-in does not serve.
    let app = TestApp::builder(pool.clone())
        .setting("APPLE_CLIENT_ID", APPLE_AUDIENCE)
        .setting("APPLE_JWKS_URL", "{idp}/missing")
        .spawn()
        .await;

    let down = app.login(apple_login("s")).await;
    assert_eq!(
        (down.status, down.code()),
        (503, "identity_provider_unavailable")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_provider_that_is_not_configured_is_a_400(pool: PgPool) {
    let app = TestApp::builder(pool.clone())
        .setting("GOOGLE_CLIENT_IDS", "")
        .spawn()
        .await;

    let google = app.login(google_login("g")).await;
    assert_eq!(
        (google.status, google.code()),
        (400, "provider_not_enabled")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_unknown_provider_is_a_400(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let unknown = app
        .login(json!({"provider": "facebook", "identity_token": "x"}))
        .await;
    assert_eq!((unknown.status, unknown.code()), (400, "invalid_value"));
}
