//! Which notices come back to the queue: only those APNs failed to take for now.

use sqlx::PgPool;
use steel_core::domain::UserId;
use steel_core::notifier;

use super::{failures, iphone, notice};
use crate::support::apns::Apns;
use crate::support::events::{sqs_event, sqs_message};
use crate::support::seed;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn throttled_or_failing_apns_hands_the_notice_back(pool: PgPool) {
    let apns = Apns::start().await;
    let busy = seed::user(&pool, "busy").await;
    iphone(&pool, busy, "A", "busy-1").await;
    let down = seed::user(&pool, "down").await;
    iphone(&pool, down, "A", "down-1").await;
    iphone(&pool, down, "B", "ok-1").await;
    let happy = seed::user(&pool, "happy").await;
    iphone(&pool, happy, "A", "ok-2").await;
    let event = sqs_event(vec![
        notice("busy-1", busy, None, 1, &["a.md"]),
        notice("down-1", down, None, 1, &["a.md"]),
        notice("down-2", down, None, 2, &["b.md"]),
        notice("happy-1", happy, None, 1, &["a.md"]),
        sqs_message("junk", "{not json"),
        notice("ghost", UserId::new_random(), None, 1, &["a.md"]),
    ]);
    let response = notifier::handle_batch(&pool, &apns.pushers(), event).await;
    // Only the notices with a retryable failure come back; junk and unknown users are dropped.
    assert_eq!(failures(&response), vec!["busy-1", "down-1", "down-2"]);
}
