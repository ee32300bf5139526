//! What login, refresh and device registration share: the device a client describes, the
//! token pair we hand out, and the device record we answer with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Device, DeviceUpdate, devices, tokens};
use crate::domain::{DeviceId, Platform, PushEnvironment, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::runtime::AppState;

pub const MAX_DEVICE_NAME_CHARS: usize = 200;
pub const MAX_PUSH_TOKEN_BYTES: usize = 512;

/// A device as a client describes it (login's `device`, the register body).
#[derive(Debug, Deserialize)]
pub struct DeviceInput {
    pub device_name: String,
    pub platform: Platform,
    #[serde(default)]
    pub push_token: Option<String>,
    #[serde(default)]
    pub push_environment: Option<PushEnvironment>,
}

impl DeviceInput {
    pub fn validate(self) -> Result<DeviceUpdate, ApiError> {
        // Checked as sent (the OpenAPI schema says the same), stored trimmed.
        let raw = self.device_name.as_str();
        if !(1..=MAX_DEVICE_NAME_CHARS).contains(&raw.chars().count())
            || raw.chars().any(char::is_control)
            || raw.trim().is_empty()
        {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidDeviceName,
                "device_name must be 1 to 200 characters, not only white space, without control characters",
            ));
        }
        let name = raw.trim();
        let push_token = match self.push_token.as_deref() {
            None | Some("") => None,
            Some(t)
                if t.len() <= MAX_PUSH_TOKEN_BYTES && t.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Some(t.to_owned())
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidPushToken,
                    "push_token must be at most 512 printable ASCII characters without spaces",
                ));
            }
        };
        Ok(DeviceUpdate {
            device_name: name.to_owned(),
            platform: self.platform,
            push_token,
            push_environment: self.push_environment.unwrap_or(PushEnvironment::Production),
        })
    }
}

/// A device as we show it: never the push token itself.
#[derive(Debug, Serialize)]
pub struct DeviceRecord {
    pub device_id: DeviceId,
    pub device_name: String,
    pub platform: Platform,
    pub push_environment: PushEnvironment,
    pub has_push_token: bool,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl From<&Device> for DeviceRecord {
    fn from(d: &Device) -> Self {
        DeviceRecord {
            device_id: d.id,
            device_name: d.device_name.clone(),
            platform: d.platform,
            push_environment: d.push_environment,
            has_push_token: d.push_token.is_some(),
            created_at: d.created_at,
            last_seen_at: d.last_seen_at,
        }
    }
}

/// `{"access_token", "refresh_token", "token_type", "expires_in", "user_id", "device_id"}`,
/// plus the device record when one was registered.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceRecord>,
}

/// Registers `device` (when given) and starts a refresh-token family bound to it, in one
/// transaction, then mints the access token.
pub async fn start_session(
    state: &AppState,
    user_id: UserId,
    device: Option<&DeviceUpdate>,
) -> Result<TokenResponse, ApiError> {
    let refresh = state.tokens.new_refresh_token()?;
    let mut tx = state.db.begin().await?;
    let device = match device {
        Some(update) => Some(devices::register_device_in(&mut tx, user_id, update).await?),
        None => None,
    };
    let device_id = device.as_ref().map(|d| d.id);
    tokens::insert_new_family(
        &mut tx,
        user_id,
        device_id,
        &refresh.hash,
        refresh.expires_at,
    )
    .await?;
    tx.commit().await?;
    Ok(TokenResponse {
        access_token: state.tokens.issue_access(user_id, device_id)?,
        refresh_token: refresh.token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl_secs(),
        user_id,
        device_id,
        device: device.as_ref().map(DeviceRecord::from),
    })
}
