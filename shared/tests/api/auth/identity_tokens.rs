//! Identity tokens: every defect is refused, the nonce is checked as Apple documents it, and
//! an unknown key id refetches the provider's keys at most once.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::refused;
use crate::support::idp::{
    TEST_KID, apple_claims, apple_login, b64url, id_token, id_token_with, now,
};
use crate::support::services::fixture;
use crate::support::{TestApp, oracle};

fn apple(token: &str) -> Value {
    json!({"provider": "apple", "identity_token": token})
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn identity_tokens_with_any_defect_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let signed = |claims: Value| apple(&id_token(&claims));

    let mut c = apple_claims("s");
    c["aud"] = json!("com.someone.else");
    refused(&app.login(signed(c)).await);

    let mut c = apple_claims("s");
    c["iss"] = json!("https://evil.example.com");
    refused(&app.login(signed(c)).await);

    // Google's issuer is not Apple's.
    let mut c = apple_claims("s");
    c["iss"] = json!("https://accounts.google.com");
    refused(&app.login(signed(c)).await);

    let mut c = apple_claims("s");
    c["exp"] = json!(now() - 3600);
    refused(&app.login(signed(c)).await);

    // Signed by another key that claims the provider's kid.
    let forged = id_token_with(&apple_claims("s"), Some(TEST_KID), "other-key.pem");
    refused(&app.login(apple(&forged)).await);

    let mut c = apple_claims("s");
    c.as_object_mut().expect("obj").remove("sub");
    refused(&app.login(signed(c)).await);

    let mut c = apple_claims("s");
    c["sub"] = json!("");
    refused(&app.login(signed(c)).await);

    // alg: none, with the provider's kid.
    let none = format!(
        "{}.{}.",
        b64url(&json!({"alg": "none", "kid": TEST_KID, "typ": "JWT"})),
        b64url(&apple_claims("s"))
    );
    refused(&app.login(apple(&none)).await);

    // HS256 "signed" with the provider's public key: the classic algorithm confusion.
    let public_pem = std::fs::read(fixture("idp-key.pub.pem")).expect("pub");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(TEST_KID.into());
    let confused = jsonwebtoken::encode(
        &header,
        &apple_claims("s"),
        &EncodingKey::from_secret(&public_pem),
    )
    .expect("hs");
    refused(&app.login(apple(&confused)).await);

    for garbage in ["", "not-a-jwt", "a.b.c"] {
        refused(&app.login(apple(garbage)).await);
    }
    assert_eq!(
        oracle::count(&pool, "users").await,
        0,
        "no refused login wrote anything"
    );
}

const RAW_NONCE: &str = "d1f7c0f4-raw-nonce";

/// The nonce as Apple puts it in the token: the SHA-256 (hex) of the raw nonce the app sent.
fn hashed(raw: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(raw.as_bytes()))
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_raw_nonce_matching_the_hashed_claim_is_accepted(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mut c = apple_claims("nonce-user");
    c["nonce"] = json!(hashed(RAW_NONCE));

    let ok = app
        .login(json!({"provider": "apple", "identity_token": id_token(&c), "nonce": RAW_NONCE}))
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_nonce_that_does_not_match_the_claim_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let raw = RAW_NONCE;
    let mut c = apple_claims("nonce-user");
    c["nonce"] = json!(hashed(raw));
    let token = id_token(&c);

    refused(
        &app.login(json!({"provider": "apple", "identity_token": token, "nonce": "another"}))
            .await,
    );
    // The raw nonce in the token (the app forgot to hash it) does not match either.
    let mut c = apple_claims("nonce-user");
    c["nonce"] = json!(raw);
    refused(
        &app.login(json!({"provider": "apple", "identity_token": id_token(&c), "nonce": raw}))
            .await,
    );
    // A nonce in the request but none in the token.
    refused(
        &app.login(json!({"provider": "apple", "identity_token": id_token(&apple_claims("nonce-user")), "nonce": raw}))
            .await,
    );
}

/// Apple sends `email_verified` and `is_private_email` as strings; real booleans are fine.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn claims_with_real_booleans_are_accepted(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mut c = apple_claims("bool-user");
    c["email_verified"] = json!(true);
    c["is_private_email"] = json!(false);

    let ok = app.login(apple(&id_token(&c))).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn unknown_kid_refetches_once_then_refuses(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    assert_eq!(app.login(apple_login("warm")).await.status, 200);
    assert_eq!(app.idp.fetches("/apple/keys").await, 1);

    let rotated = id_token_with(&apple_claims("s"), Some("kid-we-never-saw"), "idp-key.pem");
    refused(&app.login(apple(&rotated)).await);
    assert_eq!(
        app.idp.fetches("/apple/keys").await,
        2,
        "one refetch for the unknown kid"
    );

    // More unknown kids right after: no more fetches (rate limited), still refused.
    for i in 0..5 {
        let t = id_token_with(
            &apple_claims("s"),
            Some(&format!("made-up-{i}")),
            "idp-key.pem",
        );
        refused(&app.login(apple(&t)).await);
    }
    assert_eq!(app.idp.fetches("/apple/keys").await, 2);
    // No kid at all is refused without a fetch.
    let t = id_token_with(&apple_claims("s"), None, "idp-key.pem");
    refused(&app.login(apple(&t)).await);
    assert_eq!(app.idp.fetches("/apple/keys").await, 2);
}
