//! `GET /account`: who the caller is, how much the vault holds (from counters: O(1) in its
//! size), how long deleted notes and old versions are kept, and the devices signed in.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::authenticate;
use crate::auth::session::DeviceRecord;
use crate::db::{account, devices, users};
use crate::domain::{Provider, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::AppState;

#[derive(Debug, Serialize)]
struct AccountDevice {
    #[serde(flatten)]
    device: DeviceRecord,
    current: bool,
}

#[derive(Debug, Serialize)]
struct AccountResponse {
    user_id: UserId,
    email: Option<String>,
    provider: Provider,
    created_at: DateTime<Utc>,
    vault_size: i64,
    quota_bytes: u64,
    file_count: i64,
    stored_bytes: i64,
    retention: Retention,
    devices: Vec<AccountDevice>,
}

/// How long the server keeps what a user can get back (see the janitor).
#[derive(Debug, Serialize)]
struct Retention {
    history_days: i64,
    deleted_days: i64,
}

pub async fn handle(state: &AppState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate(state, &request).await?;
    let user = users::get_user(&state.db, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
    let stats = account::vault_stats(&state.db, caller.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::InvalidToken))?;
    let lifecycle = &state.config.lifecycle;
    let devices = devices::get_user_devices(&state.db, caller.user_id).await?;
    ApiResponse::ok(&AccountResponse {
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
