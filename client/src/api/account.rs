//! The account endpoints the apps use beside syncing (the CLI has no command for them yet):
//! registering this device's push token, the account's details, signing out on the server
//! and deleting the account. Answers come back as the server's JSON.

use reqwest::Method;
use serde_json::{Value, json};

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
        let body = json!({"device_name": device_name, "platform": platform,
                          "push_token": push_token, "push_environment": push_environment});
        self.call(Op::Register, Method::POST, "/devices/register", Some(&body))
            .await
    }

    /// `GET /account`: the user, the vault's size and quota, retention, the devices.
    pub async fn account(&self) -> Result<Value> {
        self.call(Op::Account, Method::GET, "/account", None).await
    }

    /// `POST /auth/logout`: revokes this session's refresh token family.
    pub async fn logout(&self) -> Result<Value> {
        let refresh_token = self.session().await.refresh_token;
        let body = json!({ "refresh_token": refresh_token });
        self.call(Op::Logout, Method::POST, "/auth/logout", Some(&body))
            .await
    }

    /// `DELETE /account`: deletes the user and everything stored for them.
    pub async fn delete_account(&self) -> Result<Value> {
        let body = json!({ "confirm": "DELETE" });
        self.call(Op::DeleteAccount, Method::DELETE, "/account", Some(&body))
            .await
    }
}
