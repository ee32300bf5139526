//! `DELETE /account` with `{"confirm": "DELETE"}`: delete the user's rows in one transaction,
//! then every object under the user's S3 prefix. The purge is recorded in the same
//! transaction and queued, so if this function dies halfway a retry from the queue finishes
//! it. Afterwards the old tokens get 401, and a new login with the same Apple/Google id
//! starts an empty account.

use serde::{Deserialize, Serialize};

use crate::auth::authenticate;
use crate::db::account;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use crate::storage::Storage;

/// Keys per DeleteObjects call (S3's maximum).
pub const PURGE_PAGE: i32 = 1000;
/// Pages per invocation: a big vault is finished by the queued retry.
const PURGE_PAGES_PER_CALL: usize = 50;

#[derive(Debug, Deserialize)]
struct DeleteAccountRequest {
    confirm: String,
}

#[derive(Debug, Serialize)]
struct DeleteAccountResponse {
    deleted: bool,
    objects_deleted: u64,
    /// False when objects remain; the queued purge finishes the job.
    purge_complete: bool,
}

/// The message that asks for (the rest of) a purge.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PurgeRequest {
    pub purge_user_id: UserId,
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(state, &request).await?;
    let body: DeleteAccountRequest = request.json()?;
    if body.confirm != "DELETE" {
        return Err(ApiError::bad_request(
            "confirmation_required",
            "send {\"confirm\": \"DELETE\"} to delete the account and every note in it",
        ));
    }
    let storage = state.storage()?;
    if !account::delete_account(&state.db, caller.user_id).await? {
        return Err(ApiError::unauthorized("invalid_token"));
    }
    tracing::info!(user_id = %caller.user_id, "account deleted; purging its objects");
    enqueue_purge(state, caller.user_id).await;
    let (objects_deleted, purge_complete) = match purge(
        state,
        &storage,
        caller.user_id,
        PURGE_PAGE,
        PURGE_PAGES_PER_CALL,
    )
    .await
    {
        Ok(done) => done,
        Err(err) => {
            tracing::error!(user_id = %caller.user_id, error = %err, "purge interrupted; the queued retry finishes it");
            (0, false)
        }
    };
    ApiResponse::ok(&DeleteAccountResponse {
        deleted: true,
        objects_deleted,
        purge_complete,
    })
}

/// Deletes up to `pages` pages of the user's objects and records the progress.
pub async fn purge(
    state: &AppState,
    storage: &Storage,
    user_id: UserId,
    page_size: i32,
    pages: usize,
) -> Result<(u64, bool), anyhow::Error> {
    let (deleted, done) = storage.purge_user(user_id, page_size, pages).await?;
    account::record_purge(&state.db, user_id, deleted, done).await?;
    Ok((deleted, done))
}

async fn enqueue_purge(state: &AppState, user_id: UserId) {
    let body = serde_json::to_string(&PurgeRequest {
        purge_user_id: user_id,
    })
    .unwrap_or_default();
    let sent = match (state.sqs(), state.config.require_purge_queue_url()) {
        (Ok(sqs), Ok(url)) => sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Err("SQS not configured".into()),
    };
    if let Err(err) = sent {
        // The purge stays recorded as pending in account_purges.
        tracing::error!(%user_id, error = err, "purge request not queued");
    }
}

/// Handles queued purge requests (an SQS batch); returns the ids to retry.
pub async fn handle_purges(
    state: &AppState,
    event: aws_lambda_events::sqs::SqsEvent,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    let mut response = aws_lambda_events::sqs::SqsBatchResponse::default();
    let storage = match state.storage() {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = %err, "no S3 client for purges");
            return response;
        }
    };
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
        match purge(
            state,
            &storage,
            request.purge_user_id,
            PURGE_PAGE,
            PURGE_PAGES_PER_CALL,
        )
        .await
        {
            Ok((_, true)) => tracing::info!(user_id = %request.purge_user_id, "purge complete"),
            Ok((_, false)) | Err(_) => {
                let mut failure = aws_lambda_events::sqs::BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
