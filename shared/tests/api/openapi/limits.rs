//! The limits of device and sign-in fields are in `openapi.yaml` exactly as the code
//! enforces them: for values at and past every boundary, the schema refuses a body exactly
//! when the handler answers its 400.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::idp::{apple_claims, id_token};
use crate::support::{TestApp, openapi};

fn conforms(path: &str, body: &Value) -> bool {
    openapi::spec()
        .check_request(
            "POST",
            path,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
        .is_ok()
}

fn names() -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "   ".into(),
        "a".into(),
        " a ".into(),
        "a".repeat(200),
        "a".repeat(201),
        format!("{} ", "a".repeat(199)),
        format!("{} ", "a".repeat(200)),
        "é".repeat(200),
        "Anna's iPhone".into(),
        "tab\there".into(),
        "next\u{85}line".into(),
        "del\u{7f}".into(),
        "\u{3000}".into(),
    ]
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn device_names_are_refused_by_the_schema_exactly_when_by_the_handler(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("limits").await;
    for name in names() {
        let body = json!({"device_name": name, "platform": "macos"});
        let answer = app.register(&dev, body.clone()).await;
        let refused = (answer.status, answer.code()) == (400, "invalid_device_name");
        assert!(
            refused || answer.status == 200,
            "{name:?}: {:?}",
            answer.body
        );
        assert_eq!(conforms("/devices/register", &body), !refused, "{name:?}");
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn push_tokens_are_refused_by_the_schema_exactly_when_by_the_handler(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("limits").await;
    let tokens = [
        String::new(),
        "abc123".into(),
        "a b".into(),
        " abc".into(),
        "x".repeat(512),
        "x".repeat(513),
        "é".into(),
        "tab\t".into(),
        "~!{}:".into(),
    ];
    for token in tokens {
        let body = json!({"device_name": "Mac", "platform": "macos", "push_token": token});
        let answer = app.register(&dev, body.clone()).await;
        let refused = (answer.status, answer.code()) == (400, "invalid_push_token");
        assert!(
            refused || answer.status == 200,
            "{token:?}: {:?}",
            answer.body
        );
        assert_eq!(conforms("/devices/register", &body), !refused, "{token:?}");
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn nonces_are_refused_by_the_schema_exactly_when_by_the_handler(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let nonces = [
        String::new(),
        " ".into(),
        "n".into(),
        "x".repeat(512),
        "x".repeat(513),
        "é".into(),
        "tab\t".into(),
        "~ with spaces ~".into(),
    ];
    for nonce in nonces {
        let body = json!({"provider": "apple", "identity_token": id_token(&apple_claims("n")),
                          "nonce": nonce});
        let answer = app.login(body.clone()).await;
        // A nonce that passes the checks meets the token's (absent) nonce claim: 401.
        let refused = (answer.status, answer.code()) == (400, "invalid_nonce");
        assert!(
            refused || answer.status == 401,
            "{nonce:?}: {:?}",
            answer.body
        );
        assert_eq!(conforms("/auth/login", &body), !refused, "{nonce:?}");
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn push_tokens_of_each_platform_are_refused_by_the_schema_exactly_when_by_the_handler(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("platforms").await;
    let apns = "a1b2".repeat(16);
    let fcm = format!("dGhpcy1pcy1hbi1pbnN0YW5jZQ:APA91b{}", "Xy_-z9".repeat(25));
    let cases: Vec<(&str, String, &str)> = vec![
        ("ios", apns.clone(), ""),
        ("macos", apns.clone(), ""),
        ("android", fcm.clone(), ""),
        ("android", "APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx".into(), ""),
        // Each service's token for the other's devices.
        ("android", apns.clone(), "push_token_wrong_platform"),
        ("android", "AB".repeat(100), "push_token_wrong_platform"),
        ("ios", fcm.clone(), "push_token_wrong_platform"),
        ("macos", fcm.clone(), "push_token_wrong_platform"),
        // Not an FCM token at all.
        ("android", "short:token".into(), "invalid_push_token"),
        (
            "android",
            "has.dots.and/slashes-0123456789".into(),
            "invalid_push_token",
        ),
        ("android", "x".repeat(1025), "invalid_push_token"),
        ("android", "x".repeat(1024), ""),
        // Short tokens with a colon are not FCM's: an Apple device may have them.
        ("ios", "~!{}:".into(), ""),
        ("ios", "x".repeat(513), "invalid_push_token"),
    ];
    for (platform, token, want) in cases {
        let body = json!({"device_name": "Phone", "platform": platform, "push_token": token});
        let answer = app.register(&dev, body.clone()).await;
        let got = if answer.status == 200 {
            ""
        } else {
            answer.code()
        };
        assert_eq!(got, want, "{platform} {token:?}: {:?}", answer.body);
        assert_eq!(
            conforms("/devices/register", &body),
            want.is_empty(),
            "the schema on {platform} {token:?}"
        );
    }
}
