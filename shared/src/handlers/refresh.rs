//! `POST /auth/refresh`: rotate a refresh token, answer a new token pair.

use crate::auth::session::TokenResponse;
use crate::auth::tokens::hash_refresh_token;
use crate::db::tokens::{self, Rotation};
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use steel_protocol::wire::RefreshRequest;

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let body: RefreshRequest = request.json()?;
    if body.refresh_token.is_empty() || body.refresh_token.len() > 512 {
        return Err(ApiError::unauthorized(ErrorCode::InvalidRefreshToken));
    }
    let next = state.tokens.successor_of(&body.refresh_token)?;
    let rotation = tokens::rotate(
        &state.db,
        &hash_refresh_token(&body.refresh_token),
        &next.hash,
        next.expires_at,
    )
    .await?;
    let (user_id, device_id) = match rotation {
        Rotation::Rotated { user_id, device_id } => (user_id, device_id),
        Rotation::Unknown => return Err(ApiError::unauthorized(ErrorCode::InvalidRefreshToken)),
        Rotation::Expired => return Err(ApiError::unauthorized(ErrorCode::RefreshTokenExpired)),
        Rotation::Revoked => return Err(ApiError::unauthorized(ErrorCode::RefreshTokenRevoked)),
        Rotation::Reused => {
            tracing::warn!("refresh token reused: family revoked");
            return Err(ApiError::unauthorized(ErrorCode::RefreshTokenReused));
        }
    };
    ApiResponse::ok(&TokenResponse {
        access_token: state.tokens.issue_access(user_id, device_id)?,
        refresh_token: next.token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.access_ttl_secs(),
        user_id,
        device_id,
        device: None,
    })
}
