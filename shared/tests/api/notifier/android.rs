//! Android devices through FCM HTTP v1, beside Apple devices through APNs: both stand-ins
//! over real HTTP, the FCM one checking the OAuth grant's signature and the bearer token.

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{DeviceId, Platform, PushEnvironment, UserId};
use steel_core::notifier::{self, Pushers};

use super::{failures, iphone, notice};
use crate::support::apns::Apns;
use crate::support::events::sqs_event;
use crate::support::fcm::Fcm;
use crate::support::{TestApp, oracle, seed};

async fn android(pool: &PgPool, user: UserId, name: &str, token: &str) -> DeviceId {
    seed::device(
        pool,
        user,
        name,
        Platform::Android,
        Some(token),
        PushEnvironment::Production,
    )
    .await
}

fn both(apns: &Apns, fcm: &Fcm) -> Pushers {
    Pushers {
        apns: Some(apns.client.clone()),
        fcm: Some(fcm.client.clone()),
    }
}

/// The device tokens FCM accepted messages for, sorted.
fn fcm_tokens(fcm: &Fcm) -> Vec<String> {
    let mut t: Vec<String> = fcm
        .delivered()
        .iter()
        .filter_map(|m| m.body["message"]["token"].as_str().map(str::to_owned))
        .collect();
    t.sort();
    t
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_mixed_batch_reaches_every_other_device_through_its_own_service(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let anna = seed::user(&pool, "anna").await;
    let ben = seed::user(&pool, "ben").await;
    iphone(&pool, anna, "iPhone", "anna-phone").await;
    seed::device(
        &pool,
        anna,
        "Mac",
        Platform::Macos,
        Some("anna-mac"),
        PushEnvironment::Production,
    )
    .await;
    android(&pool, anna, "Pixel", "anna-pixel").await;
    let origin = android(&pool, anna, "Tablet", "anna-tablet").await;
    android(&pool, ben, "Galaxy", "ben-galaxy").await;
    let event = sqs_event(vec![
        notice("m1", anna, Some(origin), 7, &["thoughts/a.md"]),
        notice("m2", ben, None, 3, &["b.md"]),
    ]);

    let response = notifier::handle_batch(&pool, &both(&apns, &fcm), event).await;
    assert!(response.batch_item_failures.is_empty());

    let mut apple: Vec<String> = apns.pushes().await.into_iter().map(|p| p.path).collect();
    apple.sort();
    assert_eq!(
        apple,
        ["/prod/3/device/anna-mac", "/prod/3/device/anna-phone"]
    );
    assert_eq!(
        fcm_tokens(&fcm),
        ["anna-pixel", "ben-galaxy"],
        "not the tablet that made the change"
    );
    assert_eq!(fcm.grants(), 1, "one access token for the whole batch");
    for m in fcm.delivered() {
        let message = &m.body["message"];
        let user = if message["token"] == "anna-pixel" {
            anna
        } else {
            ben
        };
        assert_eq!(message["android"]["priority"], "high");
        assert_eq!(message["android"]["collapse_key"], format!("vault-{user}"));
        assert_eq!(message["android"]["ttl"], "86400s");
        assert!(message.get("notification").is_none(), "data-only");
        assert!(m.bearer.starts_with("ya29.stand-in-"));
    }
    let pixel = fcm
        .delivered()
        .into_iter()
        .find(|m| m.body["message"]["token"] == "anna-pixel")
        .expect("pixel");
    assert_eq!(
        pixel.body["message"]["data"],
        json!({"cursor": "c7", "paths": "[\"thoughts/a.md\"]"})
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_refused_access_token_is_renewed_and_the_message_sent_again(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let anna = seed::user(&pool, "anna").await;
    android(&pool, anna, "Pixel", "anna-pixel").await;
    let pushers = both(&apns, &fcm);
    let first = notifier::handle_batch(
        &pool,
        &pushers,
        sqs_event(vec![notice("m1", anna, None, 1, &["a.md"])]),
    )
    .await;
    assert!(first.batch_item_failures.is_empty());
    // The cached token stops working (revoked, or Google rotated it): 401, renew, retry.
    fcm.revoke_tokens();
    let second = notifier::handle_batch(
        &pool,
        &pushers,
        sqs_event(vec![notice("m2", anna, None, 2, &["a.md"])]),
    )
    .await;
    assert!(second.batch_item_failures.is_empty());
    assert_eq!(fcm.grants(), 2);
    let delivered = fcm.delivered();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[1].bearer, "ya29.stand-in-2");
    assert_eq!(
        fcm.sends().await.len(),
        3,
        "one refused send, then the retry"
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_unregistered_or_malformed_token_is_cleared_and_only_that_one(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let anna = seed::user(&pool, "anna").await;
    let gone = android(&pool, anna, "Old phone", "gone-1").await;
    let bad = android(&pool, anna, "Broken", "bad-1").await;
    let ok = android(&pool, anna, "Pixel", "anna-pixel").await;
    let event = sqs_event(vec![notice("m1", anna, None, 1, &["a.md"])]);

    let response = notifier::handle_batch(&pool, &both(&apns, &fcm), event).await;
    assert!(response.batch_item_failures.is_empty(), "nothing to retry");
    assert_eq!(oracle::push_token(&pool, gone).await, None);
    assert_eq!(oracle::push_token(&pool, bad).await, None);
    assert_eq!(
        oracle::push_token(&pool, ok).await.as_deref(),
        Some("anna-pixel")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn throttled_or_unavailable_fcm_hands_the_notice_back(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let (anna, ben, cleo) = (
        seed::user(&pool, "anna").await,
        seed::user(&pool, "ben").await,
        seed::user(&pool, "cleo").await,
    );
    android(&pool, anna, "Pixel", "busy-1").await;
    android(&pool, ben, "Pixel", "down-1").await;
    android(&pool, cleo, "Pixel", "cleo-pixel").await;
    let event = sqs_event(vec![
        notice("anna-1", anna, None, 1, &["a.md"]),
        notice("ben-1", ben, None, 1, &["a.md"]),
        notice("cleo-1", cleo, None, 1, &["a.md"]),
    ]);
    let response = notifier::handle_batch(&pool, &both(&apns, &fcm), event).await;
    assert_eq!(failures(&response), ["anna-1", "ben-1"]);
    assert_eq!(fcm_tokens(&fcm), ["cleo-pixel"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn paths_are_left_out_when_the_data_would_pass_4_kb(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let anna = seed::user(&pool, "anna").await;
    android(&pool, anna, "Pixel", "anna-pixel").await;
    let names: Vec<String> = (0..300)
        .map(|i| format!("thoughts/a long note name {i}.md"))
        .collect();
    let paths: Vec<&str> = names.iter().map(String::as_str).collect();
    let event = sqs_event(vec![notice("m1", anna, None, 9, &paths)]);
    let response = notifier::handle_batch(&pool, &both(&apns, &fcm), event).await;
    assert!(response.batch_item_failures.is_empty());
    let data = &fcm.delivered()[0].body["message"]["data"];
    assert_eq!(data, &json!({"cursor": "c9"}));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn fcm_down_holds_back_no_apple_device(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let anna = seed::user(&pool, "anna").await;
    iphone(&pool, anna, "iPhone", "anna-phone").await;
    android(&pool, anna, "Pixel", "anna-pixel").await;
    fcm.set_down(true);
    let event = sqs_event(vec![notice("m1", anna, None, 4, &["a.md"])]);
    let response = notifier::handle_batch(&pool, &both(&apns, &fcm), event).await;
    // The iPhone got its push at once; the notice comes back for the Android phone.
    let apple: Vec<String> = apns.pushes().await.into_iter().map(|p| p.path).collect();
    assert_eq!(apple, ["/prod/3/device/anna-phone"]);
    assert_eq!(failures(&response), ["m1"]);
    assert!(fcm.delivered().is_empty());
    // FCM is back: the retried notice reaches the phone.
    fcm.set_down(false);
    let retry = notifier::handle_batch(
        &pool,
        &both(&apns, &fcm),
        sqs_event(vec![notice("m1", anna, None, 4, &["a.md"])]),
    )
    .await;
    assert!(retry.batch_item_failures.is_empty());
    assert_eq!(fcm_tokens(&fcm), ["anna-pixel"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirm_reaches_an_android_phone_and_an_iphone(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("e2e-android").await;
    iphone(&pool, mac.user_id, "iPhone", "phone-token").await;
    android(&pool, mac.user_id, "Pixel", "pixel-token").await;

    app.sync_file(&mac, "inbox.md", 0, b"from the Mac").await;
    let records = app.notice_records().await;
    assert_eq!(records.len(), 1);
    let response = notifier::handle_batch(&pool, &both(&apns, &fcm), sqs_event(records)).await;
    assert!(response.batch_item_failures.is_empty());
    let head = steel_core::db::files::current_cursor(&app.db, mac.user_id)
        .await
        .expect("cursor")
        .expect("user");
    let phone = apns.pushes().await;
    assert_eq!(phone.len(), 1);
    assert_eq!(phone[0].payload["cursor"], head.to_string());
    let data: &Value = &fcm.delivered()[0].body["message"]["data"];
    assert_eq!(data["cursor"], head.to_string());
    assert_eq!(data["paths"], "[\"inbox.md\"]");
}
