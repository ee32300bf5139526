//! `events/notifier/batch.json` through the handler: two notices of one user and a record
//! that is not JSON.

use aws_lambda_events::sqs::SqsEvent;
use serde_json::json;
use sqlx::PgPool;
use steel_core::domain::UserId;
use steel_core::notifier;

use super::iphone;
use crate::support::apns::Apns;
use crate::support::services::events_dir;

fn sample() -> SqsEvent {
    let text = std::fs::read_to_string(events_dir().join("notifier/batch.json")).expect("sample");
    serde_json::from_str(&text).expect("sqs event")
}

/// Its user does not exist here and one record is not JSON: everything is dropped, nothing
/// retried, nothing pushed.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_notifier_sample_of_an_unknown_user_is_dropped(pool: PgPool) {
    let apns = Apns::start().await;

    let response = notifier::handle_batch(&pool, &apns.pushers(), sample()).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(apns.pushes().await.is_empty());
}

/// With the sample's user present, its two notices coalesce into one push.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_notifier_sample_coalesces_into_one_push(pool: PgPool) {
    let apns = Apns::start().await;
    let user_id: UserId = "6f1c2b4e-8a0d-4c3e-9b7a-1d2e3f405162"
        .parse()
        .expect("uuid");
    sqlx::query("INSERT INTO users (id, provider, provider_sub) VALUES ($1, 'apple', 'sample')")
        .bind(user_id)
        .execute(&pool)
        .await
        .expect("user");
    iphone(&pool, user_id, "iPhone", "sample-token").await;

    let response = notifier::handle_batch(&pool, &apns.pushers(), sample()).await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].payload["cursor"], "c44");
    assert_eq!(
        pushes[0].payload["paths"],
        json!(["thoughts/Idea.md", "sources/Reading list.md"])
    );
}
