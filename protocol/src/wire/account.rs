//! Sign-in and the account: `/auth/login`, `/auth/refresh`, `/auth/logout`,
//! `/devices/register`, `GET /account`, `DELETE /account`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{DeviceId, Platform, Provider, PushEnvironment, UserId};

/// Longest device name, in characters as sent.
pub const MAX_DEVICE_NAME_CHARS: usize = 200;
/// An APNs device token is 64 hex digits today; 512 leaves Apple room to grow.
pub const MAX_PUSH_TOKEN_BYTES: usize = 512;
/// Shortest FCM registration token accepted.
pub const MIN_FCM_TOKEN_BYTES: usize = 20;
/// FCM documents no maximum; today's registration tokens are about 160 characters. 1,024
/// leaves room and keeps the (user, token) index entry far under B-tree's limit.
pub const MAX_FCM_TOKEN_BYTES: usize = 1024;

/// A device as a client describes it (login's `device`, the register body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInput {
    pub device_name: String,
    pub platform: Platform,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_environment: Option<PushEnvironment>,
}

/// `POST /auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub provider: Provider,
    pub identity_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInput>,
}

/// `POST /auth/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A device as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub device_id: DeviceId,
    pub device_name: String,
    pub platform: Platform,
    pub push_environment: PushEnvironment,
    pub has_push_token: bool,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// The answer of login and refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    pub user_id: UserId,
    pub device_id: Option<DeviceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceRecord>,
}

/// `POST /devices/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterAnswer {
    pub device: DeviceRecord,
}

/// `POST /auth/logout`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub all_devices: bool,
}

/// The answer of logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutAnswer {
    pub revoked_tokens: u64,
    pub all_devices: bool,
}

/// A device in `GET /account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDevice {
    #[serde(flatten)]
    pub device: DeviceRecord,
    /// The device whose token asked.
    pub current: bool,
}

/// How long the server keeps what can be restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub history_days: i64,
    pub deleted_days: i64,
}

/// `GET /account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountAnswer {
    pub user_id: UserId,
    pub email: Option<String>,
    pub provider: Provider,
    pub created_at: DateTime<Utc>,
    pub vault_size: i64,
    pub quota_bytes: u64,
    pub file_count: i64,
    pub stored_bytes: i64,
    pub retention: Retention,
    pub devices: Vec<AccountDevice>,
}

/// `DELETE /account`: `confirm` must be the literal `DELETE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAccountRequest {
    pub confirm: String,
}

/// The answer of `DELETE /account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAccountAnswer {
    pub deleted: bool,
    pub objects_deleted: u64,
    /// False when objects remain; the queued purge finishes the job.
    pub purge_complete: bool,
}
