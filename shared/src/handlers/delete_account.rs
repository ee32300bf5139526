//! `DELETE /account` with `{"confirm": "DELETE"}`: delete the user's rows in one transaction,
//! then every object under the user's S3 prefix (see [`crate::purge`]). Afterwards the old
//! tokens get 401, and a new login with the same Apple/Google id starts an empty account.

use crate::auth::authenticate;
use crate::db::account;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::purge::{self, PURGE_PAGE, PURGE_PAGES_PER_CALL};
use crate::runtime::AccountState;
use steel_protocol::wire::{DeleteAccountAnswer, DeleteAccountRequest};

pub async fn handle(state: &AccountState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(&state.app, &request).await?;
    let body: DeleteAccountRequest = request.json()?;
    if body.confirm != "DELETE" {
        return Err(ApiError::bad_request(
            ErrorCode::ConfirmationRequired,
            "send {\"confirm\": \"DELETE\"} to delete the account and every note in it",
        ));
    }
    if !account::delete_account(&state.app.db, caller.user_id).await? {
        return Err(ApiError::unauthorized(ErrorCode::InvalidToken));
    }
    tracing::info!(user_id = %caller.user_id, "account deleted; purging its objects");
    purge::enqueue(state, caller.user_id).await;
    let (objects_deleted, purge_complete) = match purge::purge(
        state,
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
    ApiResponse::ok(&DeleteAccountAnswer {
        deleted: true,
        objects_deleted,
        purge_complete,
    })
}
