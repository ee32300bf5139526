//! The bearer check every endpoint but login and refresh runs first, and with it the
//! account's request budget (see [`crate::budget`]): one statement checks both.

use crate::auth::AuthContext;
use crate::budget::{Charge, Taken, refusal_message, retry_after};
use crate::domain::{DeviceId, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::http::ApiRequest;

/// Who is calling: the user, and the device when the token is bound to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
}

/// `Authorization: Bearer <access token>` → the caller, spending `charge` from the caller's
/// request budget. The token must be valid and its user (and device, when bound) must still
/// exist: every such failure is a 401 with `WWW-Authenticate: Bearer` and no hint of which
/// check failed. An account over its budget gets 429 `rate_limited` with `Retry-After`.
/// One indexed statement either way (with `REQUEST_BUDGETS=false`, the plain check).
pub async fn authenticate_within(
    state: &impl AuthContext,
    request: &ApiRequest,
    charge: Charge,
) -> Result<Caller, ApiError> {
    let caller = verify(state, request)?;
    admit(state, caller, charge).await
}

/// As [`authenticate_within`], spending nothing: for `DELETE /account`, which no budget
/// refuses (a person can always leave, and it cannot repeat).
pub async fn authenticate(
    state: &impl AuthContext,
    request: &ApiRequest,
) -> Result<Caller, ApiError> {
    let caller = verify(state, request)?;
    active(state, caller).await
}

/// The token alone, no I/O: whom it names, or the 401. A handler whose charge depends on the
/// body (pull) verifies first, reads the body, then [`admit`]s.
pub fn verify(state: &impl AuthContext, request: &ApiRequest) -> Result<Caller, ApiError> {
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
    state.tokens().verify_access(token)
}

/// The rest of the check for a verified `caller`: still signed in, and within its budget
/// for `charge`.
pub async fn admit(
    state: &impl AuthContext,
    caller: Caller,
    charge: Charge,
) -> Result<Caller, ApiError> {
    let Some(budgets) = state.budgets() else {
        return active(state, caller).await;
    };
    let limit = budgets.limit(charge.budget);
    let cost = charge.cost_within(limit);
    let admitted = crate::db::budgets::admit(
        state.db(),
        caller.user_id,
        caller.device_id,
        charge.budget,
        limit,
        cost,
        state.now(),
    )
    .await?;
    match admitted {
        crate::db::budgets::Admitted::Inactive => {
            Err(ApiError::unauthorized(ErrorCode::InvalidToken))
        }
        crate::db::budgets::Admitted::Active(Taken::Granted) => Ok(caller),
        crate::db::budgets::Admitted::Active(Taken::Refused { left }) => {
            let wait = retry_after(left, cost, limit.per_second());
            Err(ApiError::too_many_requests(
                ErrorCode::RateLimited,
                refusal_message(charge.budget, limit, wait),
                wait,
            ))
        }
    }
}

async fn active(state: &impl AuthContext, caller: Caller) -> Result<Caller, ApiError> {
    let active = crate::db::users::is_active(state.db(), caller.user_id, caller.device_id).await?;
    if !active {
        return Err(ApiError::unauthorized(ErrorCode::InvalidToken));
    }
    Ok(caller)
}
