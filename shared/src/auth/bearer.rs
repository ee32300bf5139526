//! The bearer check every endpoint but login and refresh runs first.

use crate::domain::{DeviceId, UserId};
use crate::error::ApiError;
use crate::http::ApiRequest;
use crate::runtime::AppState;

/// Who is calling: the user, and the device when the token is bound to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
}

/// `Authorization: Bearer <access token>` → the caller. The token must be valid and its
/// user (and device, when bound) must still exist: one indexed query. Every failure is a
/// 401 with `WWW-Authenticate: Bearer` and no hint of which check failed.
pub async fn authenticate(state: &AppState, request: &ApiRequest) -> Result<Caller, ApiError> {
    let header = request
        .header("authorization")
        .ok_or_else(|| ApiError::unauthorized("missing_token"))?;
    let token = match header.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => return Err(ApiError::unauthorized("invalid_token")),
    };
    let caller = state.tokens.verify_access(token)?;
    let active: bool = sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM users u
             WHERE u.id = $1
               AND ($2::UUID IS NULL
                    OR EXISTS (SELECT 1 FROM devices d
                               WHERE d.id = $2 AND d.user_id = u.id AND d.removed_at IS NULL)))",
    )
    .bind(caller.user_id)
    .bind(caller.device_id)
    .fetch_one(&state.db)
    .await?;
    if !active {
        return Err(ApiError::unauthorized("invalid_token"));
    }
    Ok(caller)
}
