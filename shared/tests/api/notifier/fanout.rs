//! Who hears about a change: every other Apple device with a token, once per batch.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{Platform, PushEnvironment, UserId};
use steel_core::notifier;

use super::notice;
use crate::support::apns::{Apns, KEY_ID, Push, TEAM_ID, TOPIC};
use crate::support::events::sqs_event;
use crate::support::seed;
use crate::support::services::fixture;

/// A user with a Mac, an iPhone (sandbox), an Android phone, an iPad without a token and
/// a Mac mini; one notice of a change the Mac mini made. The pushes, sorted by path.
async fn fan_out(pool: &PgPool, apns: &Apns) -> (UserId, Vec<Push>) {
    let u = seed::user(pool, "fanout").await;
    let production = PushEnvironment::Production;
    seed::device(
        pool,
        u,
        "Mac",
        Platform::Macos,
        Some("mac-token"),
        production,
    )
    .await;
    seed::device(
        pool,
        u,
        "iPhone",
        Platform::Ios,
        Some("phone-token"),
        PushEnvironment::Sandbox,
    )
    .await;
    seed::device(
        pool,
        u,
        "Pixel",
        Platform::Android,
        Some("fcm-token"),
        production,
    )
    .await;
    seed::device(pool, u, "iPad", Platform::Ios, None, production).await;
    let origin = seed::device(
        pool,
        u,
        "Mac mini",
        Platform::Macos,
        Some("origin-token"),
        production,
    )
    .await;

    let response = notifier::handle_batch(
        pool,
        &apns.pushers(),
        sqs_event(vec![notice("m1", u, Some(origin), 7, &["a.md"])]),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    let mut pushes = apns.pushes().await;
    pushes.sort_by(|a, b| a.path.cmp(&b.path));
    (u, pushes)
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn pushes_reach_every_other_apple_device_in_its_environment(pool: PgPool) {
    let apns = Apns::start().await;
    let (_, pushes) = fan_out(&pool, &apns).await;

    let paths: Vec<&str> = pushes.iter().map(|p| p.path.as_str()).collect();
    // Not the origin, not Android, not the device without a token; each in its environment.
    assert_eq!(
        paths,
        vec!["/prod/3/device/mac-token", "/sandbox/3/device/phone-token"]
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_is_a_background_push_signed_with_our_key(pool: PgPool) {
    let apns = Apns::start().await;
    let (u, pushes) = fan_out(&pool, &apns).await;

    let public =
        DecodingKey::from_ec_pem(&std::fs::read(fixture("apns-key.pub.pem")).expect("pub"))
            .expect("key");
    assert!(!pushes.is_empty());
    for push in &pushes {
        let h = |name: &str| push.header(name);
        assert_eq!(h("apns-push-type"), "background");
        assert_eq!(h("apns-priority"), "5");
        assert_eq!(h("apns-topic"), TOPIC);
        assert_eq!(h("apns-collapse-id"), format!("vault-{u}"));
        let expiration: i64 = h("apns-expiration").parse().expect("expiration");
        assert!(expiration > chrono::Utc::now().timestamp());
        // The provider token: ES256 by our key, kid = key id, iss = team id.
        let jwt = h("authorization")
            .strip_prefix("bearer ")
            .expect("bearer")
            .to_owned();
        let header = jsonwebtoken::decode_header(&jwt).expect("header");
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::ES256, Some(KEY_ID))
        );
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_required_spec_claims::<&str>(&[]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(&jwt, &public, &validation)
            .expect("signature")
            .claims;
        assert_eq!(claims["iss"], TEAM_ID);
        assert!(claims["iat"].as_i64().expect("iat") <= chrono::Utc::now().timestamp());
        assert_eq!(
            push.payload,
            json!({"aps": {"content-available": 1}, "cursor": "c7", "paths": ["a.md"]})
        );
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_provider_token_is_cached_across_pushes(pool: PgPool) {
    let apns = Apns::start().await;
    let (_, pushes) = fan_out(&pool, &apns).await;

    assert_eq!(pushes.len(), 2);
    assert_eq!(
        pushes[0].headers.get("authorization"),
        pushes[1].headers.get("authorization")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn notices_of_one_user_are_coalesced(pool: PgPool) {
    let apns = Apns::start().await;
    let u = seed::user(&pool, "coalesce").await;
    let production = PushEnvironment::Production;
    let a = seed::device(&pool, u, "A", Platform::Ios, Some("tok-a"), production).await;
    let b = seed::device(&pool, u, "B", Platform::Macos, Some("tok-b"), production).await;
    let event = sqs_event(vec![
        notice("m1", u, Some(a), 5, &["one.md"]),
        notice("m2", u, Some(a), 9, &["two.md", "one.md"]),
        notice("m3", u, Some(b), 7, &["three.md"]),
    ]);
    let response = notifier::handle_batch(&pool, &apns.pushers(), event).await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    // A and B each caused some of the notices, so both hear about the others'.
    assert_eq!(pushes.len(), 2, "one push per device per batch");
    for push in &pushes {
        assert_eq!(push.payload["cursor"], "c9", "the highest cursor");
        assert_eq!(
            push.payload["paths"],
            json!(["one.md", "two.md", "three.md"])
        );
    }
}
