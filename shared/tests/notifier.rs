//! The notifier against a local HTTP/2 APNs stand-in that records every request, a real
//! Postgres, and (for the end-to-end case) the moto SQS queue `confirm` writes to.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::config::{ApnsCredentials, Secret};
use steel_core::db::{DeviceUpdate, devices, users};
use steel_core::domain::{DeviceId, Platform, Provider, PushEnvironment, UserId};
use steel_core::notifier::{
    self,
    apns::{ApnsClient, TokenPolicy},
};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOPIC: &str = "com.steelnotes.app";

/// Answers by device token: `gone-*` 410, `stale-*` 410 with an old timestamp, `bad-*` 400,
/// `busy-*` 429, `down-*` 503, `renew-*` 403 ExpiredProviderToken once then 200, else 200.
struct FakeApns {
    renew_calls: AtomicUsize,
}

impl Respond for FakeApns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let token = request.url.path().rsplit('/').next().unwrap_or_default();
        let reason = |status: u16, reason: &str| {
            ResponseTemplate::new(status).set_body_json(json!({"reason": reason}))
        };
        if token.starts_with("gone-") {
            let ts = chrono::Utc::now().timestamp_millis() + 60_000;
            ResponseTemplate::new(410)
                .set_body_json(json!({"reason": "Unregistered", "timestamp": ts}))
        } else if token.starts_with("stale-") {
            ResponseTemplate::new(410)
                .set_body_json(json!({"reason": "ExpiredToken", "timestamp": 1_000}))
        } else if token.starts_with("bad-") {
            reason(400, "BadDeviceToken")
        } else if token.starts_with("busy-") {
            reason(429, "TooManyRequests")
        } else if token.starts_with("down-") {
            reason(503, "ServiceUnavailable")
        } else if token.starts_with("renew-")
            && self.renew_calls.fetch_add(1, Ordering::SeqCst) == 0
        {
            reason(403, "ExpiredProviderToken")
        } else {
            ResponseTemplate::new(200)
        }
    }
}

struct Apns {
    server: MockServer,
    client: Arc<ApnsClient>,
}

impl Apns {
    async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(FakeApns {
                renew_calls: AtomicUsize::new(0),
            })
            .mount(&server)
            .await;
        let credentials = ApnsCredentials {
            key: Secret::new(std::fs::read_to_string(fixture("apns-key.p8")).expect("p8")),
            key_id: "KEYID12345".into(),
            team_id: "TEAMID6789".into(),
            topic: TOPIC.into(),
            production_url: format!("{}/prod", server.uri()),
            sandbox_url: format!("{}/sandbox", server.uri()),
        };
        let policy = TokenPolicy {
            min_interval: std::time::Duration::ZERO,
            ..TokenPolicy::default()
        };
        let client = Arc::new(ApnsClient::new(credentials, policy).expect("client"));
        Apns { server, client }
    }

    /// (path, headers, payload) of every push received.
    async fn pushes(&self) -> Vec<(String, wiremock::http::HeaderMap, Value)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let body = serde_json::from_slice(&r.body).expect("JSON payload");
                (r.url.path().to_owned(), r.headers, body)
            })
            .collect()
    }
}

async fn device(
    pool: &PgPool,
    user: UserId,
    name: &str,
    platform: Platform,
    token: Option<&str>,
    env: PushEnvironment,
) -> DeviceId {
    devices::register_device(
        pool,
        user,
        &DeviceUpdate {
            device_name: name.into(),
            platform,
            push_token: token.map(str::to_owned),
            push_environment: env,
        },
    )
    .await
    .expect("device")
    .id
}

async fn user(pool: &PgPool, sub: &str) -> UserId {
    users::find_or_create_user(pool, Provider::Apple, sub, None)
        .await
        .expect("user")
        .id
}

fn message(id: &str, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.into());
    m.body = Some(body.into());
    m
}

fn notice(
    id: &str,
    user: UserId,
    origin: Option<DeviceId>,
    cursor: u32,
    paths: &[&str],
) -> SqsMessage {
    message(id, &json!({"user_id": user, "origin_device_id": origin, "cursor": format!("c{cursor}"), "paths": paths}).to_string())
}

fn batch(records: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = records;
    e
}

fn failures(response: &aws_lambda_events::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

async fn push_token_of(pool: &PgPool, id: DeviceId) -> Option<String> {
    sqlx::query_scalar("SELECT push_token FROM devices WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("token")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn pushes_reach_every_other_apple_device(pool: PgPool) {
    let apns = Apns::start().await;
    let u = user(&pool, "fanout").await;
    let mac = device(
        &pool,
        u,
        "Mac",
        Platform::Macos,
        Some("mac-token"),
        PushEnvironment::Production,
    )
    .await;
    device(
        &pool,
        u,
        "iPhone",
        Platform::Ios,
        Some("phone-token"),
        PushEnvironment::Sandbox,
    )
    .await;
    device(
        &pool,
        u,
        "Pixel",
        Platform::Android,
        Some("fcm-token"),
        PushEnvironment::Production,
    )
    .await;
    device(
        &pool,
        u,
        "iPad",
        Platform::Ios,
        None,
        PushEnvironment::Production,
    )
    .await;
    let origin = device(
        &pool,
        u,
        "Mac mini",
        Platform::Macos,
        Some("origin-token"),
        PushEnvironment::Production,
    )
    .await;

    let response = notifier::handle_batch(
        &pool,
        &apns.client,
        batch(vec![notice("m1", u, Some(origin), 7, &["a.md"])]),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());

    let mut pushes = apns.pushes().await;
    pushes.sort_by(|a, b| a.0.cmp(&b.0));
    let paths: Vec<&str> = pushes.iter().map(|p| p.0.as_str()).collect();
    // Not the origin, not Android, not the device without a token; each in its environment.
    assert_eq!(
        paths,
        vec!["/prod/3/device/mac-token", "/sandbox/3/device/phone-token"]
    );
    let public =
        DecodingKey::from_ec_pem(&std::fs::read(fixture("apns-key.pub.pem")).expect("pub"))
            .expect("key");
    for (_, headers, body) in &pushes {
        let h = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
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
            (Algorithm::ES256, Some("KEYID12345"))
        );
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_required_spec_claims::<&str>(&[]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(&jwt, &public, &validation)
            .expect("signature")
            .claims;
        assert_eq!(claims["iss"], "TEAMID6789");
        assert!(claims["iat"].as_i64().expect("iat") <= chrono::Utc::now().timestamp());
        assert_eq!(
            body,
            &json!({"aps": {"content-available": 1}, "cursor": "c7", "paths": ["a.md"]})
        );
    }
    // The provider token is cached: both pushes carry the same one.
    assert_eq!(
        pushes[0].1.get("authorization"),
        pushes[1].1.get("authorization")
    );
    let _ = mac;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn notices_of_one_user_are_coalesced(pool: PgPool) {
    let apns = Apns::start().await;
    let u = user(&pool, "coalesce").await;
    let a = device(
        &pool,
        u,
        "A",
        Platform::Ios,
        Some("tok-a"),
        PushEnvironment::Production,
    )
    .await;
    let b = device(
        &pool,
        u,
        "B",
        Platform::Macos,
        Some("tok-b"),
        PushEnvironment::Production,
    )
    .await;
    let event = batch(vec![
        notice("m1", u, Some(a), 5, &["one.md"]),
        notice("m2", u, Some(a), 9, &["two.md", "one.md"]),
        notice("m3", u, Some(b), 7, &["three.md"]),
    ]);
    let response = notifier::handle_batch(&pool, &apns.client, event).await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    // A and B each caused some of the notices, so both hear about the others'.
    assert_eq!(pushes.len(), 2, "one push per device per batch");
    for (_, _, body) in &pushes {
        assert_eq!(body["cursor"], "c9", "the highest cursor");
        assert_eq!(body["paths"], json!(["one.md", "two.md", "three.md"]));
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn dead_tokens_are_cleared(pool: PgPool) {
    let apns = Apns::start().await;
    let u = user(&pool, "tokens").await;
    let gone = device(
        &pool,
        u,
        "gone",
        Platform::Ios,
        Some("gone-1"),
        PushEnvironment::Production,
    )
    .await;
    let stale = device(
        &pool,
        u,
        "stale",
        Platform::Ios,
        Some("stale-1"),
        PushEnvironment::Production,
    )
    .await;
    let bad = device(
        &pool,
        u,
        "bad",
        Platform::Ios,
        Some("bad-1"),
        PushEnvironment::Production,
    )
    .await;
    let fine = device(
        &pool,
        u,
        "fine",
        Platform::Ios,
        Some("fine-1"),
        PushEnvironment::Production,
    )
    .await;
    let response = notifier::handle_batch(
        &pool,
        &apns.client,
        batch(vec![notice("m1", u, None, 3, &["x.md"])]),
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "permanent failures are done, not retried"
    );
    assert_eq!(
        push_token_of(&pool, gone).await,
        None,
        "410 newer than the registration"
    );
    assert_eq!(
        push_token_of(&pool, stale).await.as_deref(),
        Some("stale-1"),
        "410 older than the registration: re-registered since"
    );
    assert_eq!(push_token_of(&pool, bad).await, None, "400 BadDeviceToken");
    assert_eq!(push_token_of(&pool, fine).await.as_deref(), Some("fine-1"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_expired_provider_token_is_renewed_and_retried_once(pool: PgPool) {
    let apns = Apns::start().await;
    let u = user(&pool, "renew").await;
    device(
        &pool,
        u,
        "A",
        Platform::Ios,
        Some("renew-1"),
        PushEnvironment::Production,
    )
    .await;
    let response = notifier::handle_batch(
        &pool,
        &apns.client,
        batch(vec![notice("m1", u, None, 3, &[])]),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    assert_eq!(pushes.len(), 2, "the 403, then the retry with a new token");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn throttled_or_failing_apns_hands_the_notice_back(pool: PgPool) {
    let apns = Apns::start().await;
    let busy = user(&pool, "busy").await;
    device(
        &pool,
        busy,
        "A",
        Platform::Ios,
        Some("busy-1"),
        PushEnvironment::Production,
    )
    .await;
    let down = user(&pool, "down").await;
    device(
        &pool,
        down,
        "A",
        Platform::Ios,
        Some("down-1"),
        PushEnvironment::Production,
    )
    .await;
    device(
        &pool,
        down,
        "B",
        Platform::Ios,
        Some("ok-1"),
        PushEnvironment::Production,
    )
    .await;
    let happy = user(&pool, "happy").await;
    device(
        &pool,
        happy,
        "A",
        Platform::Ios,
        Some("ok-2"),
        PushEnvironment::Production,
    )
    .await;
    let event = batch(vec![
        notice("busy-1", busy, None, 1, &["a.md"]),
        notice("down-1", down, None, 1, &["a.md"]),
        notice("down-2", down, None, 2, &["b.md"]),
        notice("happy-1", happy, None, 1, &["a.md"]),
        message("junk", "{not json"),
        notice("ghost", UserId::new_random(), None, 1, &["a.md"]),
    ]);
    let response = notifier::handle_batch(&pool, &apns.client, event).await;
    // Only the notices with a retryable failure come back; junk and unknown users are dropped.
    assert_eq!(failures(&response), vec!["busy-1", "down-1", "down-2"]);
}

#[test]
fn payloads_over_4kb_drop_the_paths() {
    let short: Vec<steel_core::domain::VaultPath> =
        vec![steel_core::domain::VaultPath::parse("a.md").expect("p")];
    let cursor = steel_core::domain::Cursor::from_seq(12);
    let p: Value = serde_json::from_str(&notifier::payload(cursor, Some(&short))).expect("json");
    assert_eq!(p["paths"], json!(["a.md"]));
    let long: Vec<steel_core::domain::VaultPath> = (0..100)
        .map(|i| {
            steel_core::domain::VaultPath::parse(&format!(
                "notes/a-rather-long-folder-name/{i:03}-note.md"
            ))
            .expect("p")
        })
        .collect();
    let text = notifier::payload(cursor, Some(&long));
    assert!(text.len() <= notifier::MAX_PAYLOAD_BYTES);
    let p: Value = serde_json::from_str(&text).expect("json");
    assert!(p.get("paths").is_none());
    assert_eq!(p["cursor"], "c12");
    assert_eq!(p["aps"]["content-available"], 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn oversized_path_lists_still_push_the_cursor(pool: PgPool) {
    let apns = Apns::start().await;
    let u = user(&pool, "many-paths").await;
    device(
        &pool,
        u,
        "A",
        Platform::Ios,
        Some("tok"),
        PushEnvironment::Production,
    )
    .await;
    let paths: Vec<String> = (0..200)
        .map(|i| format!("thoughts/{i:04}-a-long-note-name.md"))
        .collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    notifier::handle_batch(
        &pool,
        &apns.client,
        batch(vec![notice("m1", u, None, 42, &refs)]),
    )
    .await;
    let pushes = apns.pushes().await;
    assert_eq!(
        pushes[0].2,
        json!({"aps": {"content-available": 1}, "cursor": "c42"})
    );
}

/// confirm → moto SQS → the message, wrapped in an SQS event → notifier → the APNs stand-in.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirm_reaches_the_other_device(pool: PgPool) {
    let apns = Apns::start().await;
    let (state, queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let mac = new_user_device(&state, "e2e").await;
    sqlx::query("UPDATE devices SET push_token = 'mac-token' WHERE id = $1")
        .bind(mac.device_id)
        .execute(&pool)
        .await
        .expect("token");
    let phone = device(
        &pool,
        mac.user_id,
        "iPhone",
        Platform::Ios,
        Some("phone-token"),
        PushEnvironment::Production,
    )
    .await;

    sync_file(&state, &http, &mac, "inbox.md", 0, b"pushed from the Mac").await;

    let received = state
        .sqs()
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    let records: Vec<SqsMessage> = received
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            message(
                m.message_id().unwrap_or_default(),
                m.body().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(records.len(), 1);
    let response = notifier::handle_batch(&pool, &apns.client, batch(records)).await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    assert_eq!(
        pushes.len(),
        1,
        "the phone only, not the Mac that made the change"
    );
    assert_eq!(pushes[0].0, "/prod/3/device/phone-token");
    let head = steel_core::db::files::current_cursor(&state.db, mac.user_id)
        .await
        .expect("cursor")
        .expect("user");
    assert_eq!(pushes[0].2["cursor"], head.to_string());
    assert_eq!(pushes[0].2["paths"], json!(["inbox.md"]));
    let _ = phone;
}

/// events/notifier/batch.json through the handler: its user does not exist here and one
/// record is not JSON, so everything is dropped, nothing retried, nothing pushed.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_notifier_sample_event_goes_through_the_handler(pool: PgPool) {
    let apns = Apns::start().await;
    let text = std::fs::read_to_string(events_dir().join("notifier/batch.json")).expect("sample");
    let event: SqsEvent = serde_json::from_str(&text).expect("sqs event");
    let response = notifier::handle_batch(&pool, &apns.client, event).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(apns.pushes().await.is_empty());
    // With the sample's user present, its two notices coalesce into one push.
    let user_id: UserId = "6f1c2b4e-8a0d-4c3e-9b7a-1d2e3f405162"
        .parse()
        .expect("uuid");
    sqlx::query("INSERT INTO users (id, provider, provider_sub) VALUES ($1, 'apple', 'sample')")
        .bind(user_id)
        .execute(&pool)
        .await
        .expect("user");
    device(
        &pool,
        user_id,
        "iPhone",
        Platform::Ios,
        Some("sample-token"),
        PushEnvironment::Production,
    )
    .await;
    let event: SqsEvent = serde_json::from_str(&text).expect("sqs event");
    let response = notifier::handle_batch(&pool, &apns.client, event).await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].2["cursor"], "c44");
    assert_eq!(
        pushes[0].2["paths"],
        json!(["thoughts/Idea.md", "sources/Reading list.md"])
    );
}
