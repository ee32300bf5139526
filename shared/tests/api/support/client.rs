//! The callers of the API and what they get back: devices with their tokens, the
//! credentials a request carries, and a handler's parsed answer.

use serde_json::Value;
use steel_core::domain::{DeviceId, UserId};

/// A handler's answer, parsed.
#[derive(Debug)]
pub struct Answer {
    pub status: i64,
    pub body: Value,
    pub www_authenticate: Option<String>,
    pub retry_after: Option<String>,
    /// The `ETag` header (`/vault/keys`).
    pub etag: Option<String>,
}

impl Answer {
    /// `error.code` of an error answer ("" otherwise).
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A user with one device and an access token bound to it.
#[derive(Debug, Clone)]
pub struct TestDevice {
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub token: String,
}

/// A device signed in through `POST /auth/login`: its tokens and the whole answer.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub device: TestDevice,
    pub refresh_token: String,
    pub body: Value,
}

/// Who a request is from: the `Authorization: Bearer` token it carries, if any.
pub trait Credentials {
    fn bearer(&self) -> Option<&str>;
}

/// No `Authorization` header at all.
pub struct Anonymous;

impl Credentials for Anonymous {
    fn bearer(&self) -> Option<&str> {
        None
    }
}

impl Credentials for TestDevice {
    fn bearer(&self) -> Option<&str> {
        Some(&self.token)
    }
}

impl Credentials for SignedIn {
    fn bearer(&self) -> Option<&str> {
        Some(&self.device.token)
    }
}

impl Credentials for str {
    fn bearer(&self) -> Option<&str> {
        Some(self)
    }
}

impl Credentials for String {
    fn bearer(&self) -> Option<&str> {
        Some(self)
    }
}

/// The user, device and tokens of a login (or register) answer.
pub fn signed_in(body: Value) -> SignedIn {
    let text = |field: &str| {
        body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {body}"))
            .to_owned()
    };
    SignedIn {
        device: TestDevice {
            user_id: text("user_id").parse().expect("user uuid"),
            device_id: text("device_id").parse().expect("device uuid"),
            token: text("access_token"),
        },
        refresh_token: text("refresh_token"),
        body,
    }
}
