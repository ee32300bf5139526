//! The samples in `events/login`, `events/refresh` and `events/register` through the real
//! handlers, with their placeholders replaced by real tokens (and refused with them).

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;
use crate::support::events::sample_event;
use crate::support::idp::{apple_claims, apple_login, google_claims, id_token};

/// The sample with `from` replaced by `to` in its body.
fn with_body(name: &str, from: &str, to: &str) -> ApiGatewayV2httpRequest {
    let mut e = sample_event(name);
    e.body = e.body.map(|b| b.replace(from, to));
    e
}

/// The sample with `token` as its bearer token.
fn with_bearer(name: &str, token: &str) -> ApiGatewayV2httpRequest {
    let mut e = sample_event(name);
    e.headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("hdr"),
    );
    e
}

/// `login/apple.json` signed for `sub`, with the nonce it sends hashed into the token.
fn apple_sample(sub: &str) -> ApiGatewayV2httpRequest {
    let mut apple = apple_claims(sub);
    let hashed_nonce = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"raw-nonce-123"))
    };
    apple["nonce"] = json!(hashed_nonce);
    with_body(
        "login/apple.json",
        "REPLACE_WITH_APPLE_ID_TOKEN",
        &id_token(&apple),
    )
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_login_samples_sign_in_with_a_real_identity_token(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let answer = app.send(apple_sample("sample-user")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(answer.body["device_id"].is_string());
    let answer = app
        .send(with_body(
            "login/google.json",
            "REPLACE_WITH_GOOGLE_ID_TOKEN",
            &id_token(&google_claims("g-sample")),
        ))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_bad_login_samples_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let answer = app.send(sample_event("login/google.json")).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "invalid_identity_token"),
        "placeholder token"
    );
    let answer = app.send(sample_event("login/malformed-json.json")).await;
    assert_eq!((answer.status, answer.code()), (400, "malformed_json"));
    let answer = app.send(sample_event("login/missing-field.json")).await;
    assert_eq!((answer.status, answer.code()), (400, "missing_field"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_refresh_samples_rotate_or_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let login = app.send(apple_sample("sample-user")).await;
    let refresh_token = login.body["refresh_token"].as_str().expect("rt");

    let answer = app
        .send(with_body(
            "refresh/valid.json",
            "REPLACE_WITH_REFRESH_TOKEN",
            refresh_token,
        ))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer = app
        .send(sample_event("refresh/wrong-content-type.json"))
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "invalid_content_type")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_register_samples_register_or_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let unbound = app.login(apple_login("sample-user")).await.body["access_token"]
        .as_str()
        .expect("at")
        .to_owned();

    let answer = app.send(with_bearer("register/valid.json", &unbound)).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!(answer.body["device"]["platform"], "macos");
    let answer = app
        .send(with_bearer("register/wrong-type.json", &unbound))
        .await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_type"));
    let answer = app.send(sample_event("register/valid.json")).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "invalid_token"),
        "placeholder bearer"
    );
}
