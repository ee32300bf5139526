//! The bearer check every endpoint but login and refresh runs first.

use crate::auth::AuthContext;
use crate::domain::{DeviceId, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::http::ApiRequest;

/// Who is calling: the user, and the device when the token is bound to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
}

/// `Authorization: Bearer <access token>` → the caller. The token must be valid and its
/// user (and device, when bound) must still exist: one indexed query. Every failure is a
/// 401 with `WWW-Authenticate: Bearer` and no hint of which check failed.
pub async fn authenticate(
    state: &impl AuthContext,
    request: &ApiRequest,
) -> Result<Caller, ApiError> {
    let header = request
        .header("authorization")
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::MissingToken))?;
    let token = match header.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => return Err(ApiError::unauthorized(ErrorCode::InvalidToken)),
    };
    let caller = state.tokens().verify_access(token)?;
    let active = crate::db::users::is_active(state.db(), caller.user_id, caller.device_id).await?;
    if !active {
        return Err(ApiError::unauthorized(ErrorCode::InvalidToken));
    }
    Ok(caller)
}
