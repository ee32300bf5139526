//! The account endpoints the apps use beside syncing (the CLI has no command for them yet):
//! registering this device's push token, the account's details, signing out on the server
//! and deleting the account. Requests are the protocol's bodies; answers come back as the
//! server's JSON.

use reqwest::Method;
use serde_json::Value;
use steel_protocol::wire::{DeleteAccountRequest, DeviceInput, LogoutRequest};

use super::Api;
use crate::error::Result;
use crate::faults::Op;

impl Api {
    /// `POST /devices/register`: updates this device (its name, platform and push token;
    /// `push_environment` is APNs' `sandbox` or `production`). Answers `{"device": ...}`.
    pub async fn register_device(
        &self,
        device_name: &str,
        platform: &str,
        push_token: Option<&str>,
        push_environment: &str,
    ) -> Result<Value> {
        let unknown = |what: &str, value: &str| {
            crate::error::SyncError::Other(format!("{what} {value:?} is not one the API knows"))
        };
        let body = DeviceInput {
            device_name: device_name.to_owned(),
            platform: platform
                .parse()
                .map_err(|_| unknown("platform", platform))?,
            push_token: push_token.map(str::to_owned),
            push_environment: Some(
                push_environment
                    .parse()
                    .map_err(|_| unknown("push_environment", push_environment))?,
            ),
        };
        self.call(Op::Register, Method::POST, "/devices/register", Some(&body))
            .await
    }

    /// `GET /account`: the user, the vault's size and quota, retention, the devices.
    pub async fn account(&self) -> Result<Value> {
        self.call(Op::Account, Method::GET, "/account", None::<&()>)
            .await
    }

    /// `POST /auth/logout`: revokes this session's refresh token family.
    pub async fn logout(&self) -> Result<Value> {
        let refresh_token = self.session().await.refresh_token;
        let body = LogoutRequest {
            refresh_token: Some(refresh_token),
            all_devices: false,
        };
        self.call(Op::Logout, Method::POST, "/auth/logout", Some(&body))
            .await
    }

    /// `DELETE /account`: deletes the user and everything stored for them.
    pub async fn delete_account(&self) -> Result<Value> {
        let body = DeleteAccountRequest {
            confirm: "DELETE".to_owned(),
        };
        self.call(Op::DeleteAccount, Method::DELETE, "/account", Some(&body))
            .await
    }
}
