//! Account purges: deleting every object under a deleted user's prefix, page by page.
//!
//! `DELETE /account` deletes the user's rows and records a pending purge in the same
//! transaction, queues a [`PurgeRequest`] and starts purging; the same function consumes the
//! queue, so a purge that dies halfway (or a vault larger than one call handles) is finished
//! by a retry. Every call starts from what is left, so retries are safe.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::db::account;
use crate::domain::UserId;
use crate::messages::PurgeRequest;
use crate::runtime::AccountState;

/// Keys per DeleteObjects call (S3's maximum).
pub const PURGE_PAGE: i32 = 1000;
/// Pages per invocation: a big vault is finished by the queued retry.
pub const PURGE_PAGES_PER_CALL: usize = 50;

/// Deletes up to `pages` pages of the user's objects and records the progress. Returns
/// (objects deleted, whether nothing is left).
pub async fn purge(
    state: &AccountState,
    user_id: UserId,
    page_size: i32,
    pages: usize,
) -> Result<(u64, bool), anyhow::Error> {
    let (deleted, done) = state.storage.purge_user(user_id, page_size, pages).await?;
    account::record_purge(&state.app.db, user_id, deleted, done).await?;
    Ok((deleted, done))
}

/// Queues the rest of a purge. A failure is logged: the purge stays recorded as pending in
/// `account_purges`.
pub async fn enqueue(state: &AccountState, user_id: UserId) {
    let request = PurgeRequest {
        purge_user_id: user_id,
    };
    if let Err(err) = state.purges.send(&request).await {
        tracing::error!(%user_id, error = %err, "purge request not queued");
    }
}

/// Handles queued purge requests (an SQS batch); answers the ids to retry.
pub async fn handle_batch(state: &AccountState, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        let Some(Ok(request)) = record
            .body
            .as_deref()
            .map(serde_json::from_str::<PurgeRequest>)
        else {
            tracing::warn!(message_id = id, "malformed purge request dropped");
            continue;
        };
        let user_id = request.purge_user_id;
        match purge(state, user_id, PURGE_PAGE, PURGE_PAGES_PER_CALL).await {
            Ok((_, true)) => tracing::info!(%user_id, "purge complete"),
            Ok((_, false)) | Err(_) => {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
