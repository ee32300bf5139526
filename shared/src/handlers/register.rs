//! `POST /devices/register`: create the caller's device (answering a token pair bound to
//! it) or update the device its token is bound to.

use serde_json::json;

use crate::auth::authenticate_within;
use crate::auth::session::{DeviceInput, DeviceRecord, start_session, validate_device};
use crate::budget::Charge;
use crate::db::devices;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(state, &request, Charge::WRITE).await?;
    let update = validate_device(request.json::<DeviceInput>()?)?;
    match caller.device_id {
        Some(device_id) => {
            let device = devices::update_device(&state.db, caller.user_id, device_id, &update)
                .await?
                // Removed between the bearer check and now.
                .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
            ApiResponse::ok(&json!({ "device": DeviceRecord::from(&device) }))
        }
        None => {
            let session = start_session(state, caller.user_id, Some(&update)).await?;
            ApiResponse::json(201, &session)
        }
    }
}
