//! Tokens: device tokens APNs calls dead are cleared; an expired provider token is renewed.

use sqlx::PgPool;
use steel_core::notifier;

use super::{iphone, notice};
use crate::support::apns::Apns;
use crate::support::events::sqs_event;
use crate::support::{oracle, seed};

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn dead_tokens_are_cleared(pool: PgPool) {
    let apns = Apns::start().await;
    let u = seed::user(&pool, "tokens").await;
    let gone = iphone(&pool, u, "gone", "gone-1").await;
    let stale = iphone(&pool, u, "stale", "stale-1").await;
    let bad = iphone(&pool, u, "bad", "bad-1").await;
    let fine = iphone(&pool, u, "fine", "fine-1").await;
    let response = notifier::handle_batch(
        &pool,
        &apns.pushers(),
        sqs_event(vec![notice("m1", u, None, 3, &["x.md"])]),
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "permanent failures are done, not retried"
    );
    assert_eq!(
        oracle::push_token(&pool, gone).await,
        None,
        "410 newer than the registration"
    );
    assert_eq!(
        oracle::push_token(&pool, stale).await.as_deref(),
        Some("stale-1"),
        "410 older than the registration: re-registered since"
    );
    assert_eq!(
        oracle::push_token(&pool, bad).await,
        None,
        "400 BadDeviceToken"
    );
    assert_eq!(
        oracle::push_token(&pool, fine).await.as_deref(),
        Some("fine-1")
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_expired_provider_token_is_renewed_and_retried_once(pool: PgPool) {
    let apns = Apns::start().await;
    let u = seed::user(&pool, "renew").await;
    iphone(&pool, u, "A", "renew-1").await;
    let response = notifier::handle_batch(
        &pool,
        &apns.pushers(),
        sqs_event(vec![notice("m1", u, None, 3, &[])]),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    assert_eq!(pushes.len(), 2, "the 403, then the retry with a new token");
}
