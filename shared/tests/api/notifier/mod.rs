//! The notifier against a local HTTP/2 APNs stand-in and an FCM stand-in (OAuth and send)
//! that record every request, a real Postgres, and (for the end-to-end cases) the moto SQS
//! queue `confirm` writes to.

mod android;
mod end_to_end;
mod fanout;
mod payload;
mod retries;
mod samples;
mod tokens;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use serde_json::json;
use sqlx::PgPool;
use steel_core::domain::{DeviceId, Platform, PushEnvironment, UserId};

use crate::support::events::sqs_message;
use crate::support::seed;

/// A new iPhone of `user` with the production push token `token`.
async fn iphone(pool: &PgPool, user: UserId, name: &str, token: &str) -> DeviceId {
    seed::device(
        pool,
        user,
        name,
        Platform::Ios,
        Some(token),
        PushEnvironment::Production,
    )
    .await
}

/// A change notice as `confirm` queues it.
fn notice(
    id: &str,
    user: UserId,
    origin: Option<DeviceId>,
    cursor: u32,
    paths: &[&str],
) -> SqsMessage {
    sqs_message(id, &json!({"user_id": user, "origin_device_id": origin, "cursor": format!("c{cursor}"), "paths": paths}).to_string())
}

/// The ids of the records handed back for a retry, sorted.
fn failures(response: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}
