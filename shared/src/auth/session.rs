//! What login, refresh and device registration share: the device a client describes, the
//! token pair we hand out, and the device record we answer with.

use crate::auth::AuthContext;
use crate::db::{Device, DeviceUpdate, devices, tokens};
use crate::domain::{Platform, PushEnvironment, UserId};
use crate::error::{ApiError, ErrorCode};
pub use steel_protocol::wire::{DeviceInput, DeviceRecord, TokenAnswer as TokenResponse};
pub use steel_protocol::wire::{
    MAX_DEVICE_NAME_CHARS, MAX_FCM_TOKEN_BYTES, MAX_PUSH_TOKEN_BYTES, MIN_FCM_TOKEN_BYTES,
};

/// The device a client described, checked: its name, and a push token of its platform's kind.
pub fn validate_device(input: DeviceInput) -> Result<DeviceUpdate, ApiError> {
    // Checked as sent (the OpenAPI schema says the same), stored trimmed.
    let raw = input.device_name.as_str();
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
    let push_token = match input.push_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(check_push_token(input.platform, t)?.to_owned()),
    };
    Ok(DeviceUpdate {
        device_name: name.to_owned(),
        platform: input.platform,
        push_token,
        push_environment: input
            .push_environment
            .unwrap_or(PushEnvironment::Production),
    })
}

/// An FCM registration token's alphabet (base64url and the colon after the instance id).
fn fcm_alphabet(t: &str) -> bool {
    t.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
}

/// What an APNs device token looks like: an even number of hex digits, 64 to 200.
fn looks_apns(t: &str) -> bool {
    (64..=200).contains(&t.len())
        && t.len().is_multiple_of(2)
        && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What an FCM registration token looks like: long, FCM's alphabet, an instance id and a colon.
fn looks_fcm(t: &str) -> bool {
    t.len() >= 100 && fcm_alphabet(t) && t.contains(':')
}

/// A push token for `platform`: APNs for Apple devices, FCM for Android, and never the
/// other's (a token sent to the wrong service only ever fails).
fn check_push_token(platform: Platform, t: &str) -> Result<&str, ApiError> {
    let wrong = |service: &str| {
        ApiError::bad_request(
            ErrorCode::PushTokenWrongPlatform,
            format!("push_token looks like {service} token, not one for platform {platform}"),
        )
    };
    match platform {
        Platform::Android if looks_apns(t) => Err(wrong("an APNs")),
        Platform::Android
            if (MIN_FCM_TOKEN_BYTES..=MAX_FCM_TOKEN_BYTES).contains(&t.len())
                && fcm_alphabet(t) =>
        {
            Ok(t)
        }
        Platform::Android => Err(ApiError::bad_request(
            ErrorCode::InvalidPushToken,
            "an Android push_token is an FCM registration token: 20 to 1024 characters of A-Z, a-z, 0-9, '_', '-' and ':'",
        )),
        Platform::Ios | Platform::Macos if looks_fcm(t) => Err(wrong("an FCM")),
        Platform::Ios | Platform::Macos
            if t.len() <= MAX_PUSH_TOKEN_BYTES && t.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(t)
        }
        Platform::Ios | Platform::Macos => Err(ApiError::bad_request(
            ErrorCode::InvalidPushToken,
            "push_token must be at most 512 printable ASCII characters without spaces",
        )),
    }
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

/// Registers `device` (when given) and starts a refresh-token family bound to it, in one
/// transaction, then mints the access token.
pub async fn start_session(
    state: &impl AuthContext,
    user_id: UserId,
    device: Option<&DeviceUpdate>,
) -> Result<TokenResponse, ApiError> {
    let refresh = state.tokens().new_refresh_token()?;
    let mut tx = state.db().begin().await?;
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
        access_token: state.tokens().issue_access(user_id, device_id)?,
        refresh_token: refresh.token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens().access_ttl_secs(),
        user_id,
        device_id,
        device: device.as_ref().map(DeviceRecord::from),
    })
}
