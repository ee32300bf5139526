//! The bearer check every authenticated route runs: one refusal for every bad token.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::events::event;
use crate::support::idp::{
    TEST_KID, apple_claims, apple_login, b64url, id_token, id_token_with, now,
};
use crate::support::routes::Route;
use crate::support::services::JWT_SECRET;
use crate::support::{Anonymous, TestApp};

/// A register body: every test here calls `POST /devices/register`, a route behind the check.
fn mac() -> Value {
    json!({"device_name": "Mac", "platform": "macos"})
}

/// The access token of a new user's login.
async fn good_token(app: &TestApp) -> String {
    let login = app.login(apple_login("bearer")).await;
    login.body["access_token"].as_str().expect("at").to_owned()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_bearer_check_refuses_every_bad_token_alike(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let login = app.login(apple_login("bearer")).await;
    let user_id: uuid::Uuid = login.body["user_id"]
        .as_str()
        .expect("uid")
        .parse()
        .expect("uuid");
    let body = mac();

    let hs = |claims: Value, secret: &[u8]| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .expect("jwt")
    };
    let claims = |iss: &str, aud: &str, exp: i64| json!({"sub": user_id, "iat": now(), "exp": exp, "iss": iss, "aud": aud});
    let secret = JWT_SECRET.as_bytes();
    let bad_tokens = vec![
        (
            "bad signature",
            hs(
                claims("steel-notes-sync", "steel-notes-api", now() + 600),
                b"wrong-secret-wrong-secret-wrong-s",
            ),
        ),
        (
            "expired",
            hs(
                claims("steel-notes-sync", "steel-notes-api", now() - 3600),
                secret,
            ),
        ),
        (
            "wrong iss",
            hs(
                claims("someone-else", "steel-notes-api", now() + 600),
                secret,
            ),
        ),
        (
            "wrong aud",
            hs(claims("steel-notes-sync", "other-api", now() + 600), secret),
        ),
        (
            "no sub",
            hs(
                json!({"iat": now(), "exp": now() + 600, "iss": "steel-notes-sync", "aud": "steel-notes-api"}),
                secret,
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64url(&json!({"alg": "none", "typ": "JWT"})),
                b64url(&claims("steel-notes-sync", "steel-notes-api", now() + 600))
            ),
        ),
        (
            "RS256",
            id_token_with(
                &claims("steel-notes-sync", "steel-notes-api", now() + 600),
                Some(TEST_KID),
                "idp-key.pem",
            ),
        ),
        ("an identity token", id_token(&apple_claims("bearer"))),
        ("garbage", "garbage".to_owned()),
    ];
    let mut bodies = std::collections::BTreeSet::new();
    for (what, token) in &bad_tokens {
        let answer = app.register(token, body.clone()).await;
        assert_eq!(answer.status, 401, "{what}");
        assert_eq!(answer.code(), "invalid_token", "{what}");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"), "{what}");
        bodies.insert(answer.body.to_string());
    }
    assert_eq!(bodies.len(), 1, "every refusal looks the same: {bodies:?}");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn another_scheme_or_no_header_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let good = good_token(&app).await;

    let mut e = event(Route::Register, &[], None, Some(&mac()));
    e.headers.insert(
        "authorization",
        format!("Basic {good}").parse().expect("hdr"),
    );
    let answer = app.send(e).await;
    assert_eq!((answer.status, answer.code()), (401, "invalid_token"));
    let answer = app.register(&Anonymous, mac()).await;
    assert_eq!((answer.status, answer.code()), (401, "missing_token"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_good_token_works_until_its_user_is_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let good = good_token(&app).await;

    assert_eq!(app.register(&good, mac()).await.status, 201);
    sqlx::query("DELETE FROM users")
        .execute(&pool)
        .await
        .expect("delete");
    let answer = app.register(&good, mac()).await;
    assert_eq!((answer.status, answer.code()), (401, "invalid_token"));
}
