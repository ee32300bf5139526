//! `DELETE /devices/{device_id}`: sign a device out. Its refresh tokens are revoked, its push
//! token cleared and its access tokens refused from now on; its history (`updated_by`)
//! stays readable. Another user's device is a 404, exactly like an unknown one.

use serde_json::json;

use crate::auth::authenticate_within;
use crate::budget::Charge;
use crate::db::account;
use crate::domain::DeviceId;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(state, &request, Charge::WRITE).await?;
    // API Gateway fills the path parameter; fall back on the path itself.
    let raw = request
        .path_parameters
        .get("device_id")
        .cloned()
        .unwrap_or_else(|| {
            request
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
    let not_found = || ApiError::not_found(ErrorCode::DeviceNotFound, "no such device");
    let device_id: DeviceId = raw.parse().map_err(|_| not_found())?;
    if !account::remove_device(&state.db, caller.user_id, device_id).await? {
        return Err(not_found());
    }
    tracing::info!(user_id = %caller.user_id, %device_id, "device removed");
    ApiResponse::ok(&json!({"device_id": device_id, "removed": true}))
}
