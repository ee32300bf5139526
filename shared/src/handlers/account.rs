//! `GET /account`: who the caller is, how much the vault holds (from counters: O(1) in its
//! size), how long deleted notes and old versions are kept, and the devices signed in.

use crate::auth::authenticate_within;
use crate::auth::session::DeviceRecord;
use crate::budget::Charge;
use crate::db::{account, devices, users};
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;
use steel_protocol::wire::{AccountAnswer, AccountDevice, Retention};

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(state, &request, Charge::READ).await?;
    let user = users::get_user(&state.db, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
    let stats = account::vault_stats(&state.db, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
    let lifecycle = &state.config.lifecycle;
    let devices = devices::get_user_devices(&state.db, caller.user_id).await?;
    ApiResponse::ok(&AccountAnswer {
        user_id: user.id,
        email: user.email,
        provider: user.provider,
        created_at: user.created_at,
        vault_size: stats.vault_size,
        quota_bytes: state.config.limits.vault_quota_bytes,
        file_count: stats.file_count,
        stored_bytes: stats.stored_bytes,
        retention: Retention {
            history_days: lifecycle.history_retention.num_days(),
            deleted_days: lifecycle.tombstone_retention.num_days(),
        },
        devices: devices
            .iter()
            .map(|d| AccountDevice {
                device: DeviceRecord::from(d),
                current: Some(d.id) == caller.device_id,
            })
            .collect(),
    })
}
