//! `POST /auth/logout`: revoke the caller's refresh tokens. Access tokens simply expire
//! (and stop at once when the device is removed or the account deleted).
//!
//! Body (optional): `{"refresh_token": "..."}` names the family to revoke; without it the
//! families bound to the caller's device are revoked. `{"all_devices": true}` revokes every
//! refresh token of the user.

use crate::auth::authenticate_within;
use crate::auth::tokens::hash_refresh_token;
use crate::budget::Charge;
use crate::db::account;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use steel_protocol::wire::{LogoutAnswer, LogoutRequest};

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(state, &request, Charge::WRITE).await?;
    let body: LogoutRequest = if request.body().iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        request.json()?
    };
    let revoked = if body.all_devices {
        account::revoke_tokens(&state.db, caller.user_id, None).await?
    } else if let Some(token) = body.refresh_token.as_deref() {
        if !account::revoke_family_of(&state.db, caller.user_id, &hash_refresh_token(token)).await?
        {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRefreshToken,
                "no such refresh token",
            ));
        }
        1
    } else if let Some(device_id) = caller.device_id {
        account::revoke_tokens(&state.db, caller.user_id, Some(device_id)).await?
    } else {
        return Err(ApiError::bad_request(
            ErrorCode::RefreshTokenRequired,
            "this access token is not bound to a device: send the refresh_token to revoke",
        ));
    };
    ApiResponse::ok(&LogoutAnswer {
        revoked_tokens: revoked,
        all_devices: body.all_devices,
    })
}
