//! The account as the app shows it (`GET /account`) and this device's registration with its
//! push token (`POST /devices/register`), as records.

use serde::Deserialize;
use serde_json::Value;

use crate::error::EngineError;

/// A signed-in device of the account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, uniffi::Record)]
pub struct DeviceDetails {
    pub device_id: String,
    pub device_name: String,
    /// `ios`, `macos` or `android`.
    pub platform: String,
    pub has_push_token: bool,
    pub created_at: String,
    pub last_seen_at: String,
    /// This device (always false in `registerPushToken`'s answer, which is about this one).
    #[serde(default)]
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, uniffi::Record)]
pub struct AccountDetails {
    pub user_id: String,
    pub email: Option<String>,
    /// `apple` or `google`.
    pub provider: String,
    pub created_at: String,
    /// Bytes of the live notes, against `quotaBytes`.
    pub vault_size: i64,
    pub quota_bytes: u64,
    pub file_count: i64,
    #[serde(deserialize_with = "history_days", rename = "retention")]
    pub history_days: i64,
    pub devices: Vec<DeviceDetails>,
}

fn history_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let retention = Value::deserialize(d)?;
    Ok(retention["history_days"].as_i64().unwrap_or_default())
}

fn unexpected(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal {
        reason: format!("unexpected {what} answer: {e}"),
    }
}

pub fn account(raw: Value) -> Result<AccountDetails, EngineError> {
    serde_json::from_value(raw).map_err(|e| unexpected("account", e))
}

pub fn registered(raw: Value) -> Result<DeviceDetails, EngineError> {
    serde_json::from_value(raw["device"].clone()).map_err(|e| unexpected("register", e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn device(current: bool) -> Value {
        json!({"device_id": "d1", "device_name": "Pixel", "platform": "android",
               "push_environment": "production", "has_push_token": true,
               "created_at": "2026-12-07T00:00:00Z", "last_seen_at": "2026-12-07T00:00:00Z",
               "current": current})
    }

    #[test]
    fn the_account_answer_reads_as_a_record() {
        let a = account(json!({
            "user_id": "u", "email": null, "provider": "apple",
            "created_at": "2026-12-07T00:00:00Z", "vault_size": 10, "quota_bytes": 100,
            "file_count": 2, "stored_bytes": 12,
            "retention": {"history_days": 30, "deleted_days": 30},
            "devices": [device(true)]
        }))
        .unwrap();
        assert_eq!((a.vault_size, a.file_count, a.history_days), (10, 2, 30));
        assert!(a.devices[0].current && a.devices[0].has_push_token);
        assert!(matches!(
            account(json!({"user_id": 3})),
            Err(EngineError::Internal { .. })
        ));
    }

    #[test]
    fn a_registration_answer_names_the_device() {
        let d = registered(json!({ "device": device(false) })).unwrap();
        assert_eq!(
            (d.device_id.as_str(), d.platform.as_str()),
            ("d1", "android")
        );
    }
}
