//! Android pushes through FCM HTTP v1: one data-only, high-priority message per device
//! (`POST /v1/projects/{project}/messages:send`), with a collapse key per user so a burst of
//! changes wakes the phone once, and a time to live. Answers map onto the same
//! [`PushResult`] as APNs': an unregistered or malformed token is cleared, 401 renews the
//! access token and retries once, 429 and 5xx are retried by SQS.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::apns::PushResult;
use super::google_auth::{AccessTokens, ServiceAccount};
use crate::config::FcmSettings;
use crate::domain::{Cursor, VaultPath};

/// FCM refuses a message whose data (keys and values) passes 4,096 bytes.
pub const MAX_DATA_BYTES: usize = 4096;
/// An undelivered wake-up is worth nothing after a day: the phone syncs on launch anyway.
const TTL: &str = "86400s";

/// The message's data: the cursor, and the changed paths when they fit (FCM data values are
/// strings, so the paths are a JSON array in a string).
pub fn data(cursor: Cursor, paths: Option<&[VaultPath]>) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("cursor".into(), Value::String(cursor.to_string()));
    if let Some(paths) = paths {
        let listed = serde_json::to_string(paths).unwrap_or_default();
        let size = data_bytes(&data) + "paths".len() + listed.len();
        if size <= MAX_DATA_BYTES {
            data.insert("paths".into(), Value::String(listed));
        }
    }
    data
}

/// The size FCM counts: every key and value.
pub fn data_bytes(data: &Map<String, Value>) -> usize {
    data.iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum()
}

#[derive(Deserialize)]
struct FcmErrorBody {
    error: Option<FcmError>,
}

#[derive(Deserialize)]
struct FcmError {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<Value>,
}

impl FcmError {
    /// The FCM error code of the details (`UNREGISTERED`, `INVALID_ARGUMENT`, ...).
    fn code(&self) -> &str {
        self.details
            .iter()
            .find_map(|d| d["errorCode"].as_str())
            .unwrap_or(&self.status)
    }
}

/// One per cold start: the HTTP pool and the cached access token.
pub struct FcmClient {
    http: reqwest::Client,
    send_url: String,
    tokens: AccessTokens,
}

impl FcmClient {
    pub fn new(settings: &FcmSettings) -> Result<Self, anyhow::Error> {
        let key = settings
            .service_account
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("FCM_SERVICE_ACCOUNT is not set"))?;
        let account = ServiceAccount::parse(key)?;
        let project = settings
            .project_id
            .clone()
            .or_else(|| account.project_id.clone())
            .ok_or_else(|| anyhow::anyhow!("FCM_PROJECT_ID is not set and the key names none"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(FcmClient {
            send_url: format!(
                "{}/v1/projects/{project}/messages:send",
                settings.url.trim_end_matches('/')
            ),
            tokens: AccessTokens::new(account, http.clone())?,
            http,
        })
    }

    /// Sends one data-only message to `device_token`.
    pub async fn send(
        &self,
        device_token: &str,
        data: &Map<String, Value>,
        collapse_key: &str,
    ) -> PushResult {
        let message = json!({"message": {
            "token": device_token,
            "data": data,
            "android": {"priority": "high", "collapse_key": collapse_key, "ttl": TTL},
        }});
        let mut renew = false;
        for attempt in 0..2 {
            let token = match self.tokens.token(renew).await {
                Ok(t) => t,
                // The token endpoint is Google's: down or refusing, try the batch later.
                Err(e) => return PushResult::Retryable(format!("access token: {e}")),
            };
            let sent = self
                .http
                .post(&self.send_url)
                .bearer_auth(token)
                .json(&message)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => return PushResult::Retryable(format!("network: {e}")),
            };
            let status = response.status().as_u16();
            if response.status().is_success() {
                return PushResult::Delivered;
            }
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let error = response
                .json::<FcmErrorBody>()
                .await
                .ok()
                .and_then(|b| b.error);
            let (code, text) = error
                .as_ref()
                .map_or(("", ""), |e| (e.code(), e.message.as_str()));
            match (status, code) {
                (404, _) | (_, "UNREGISTERED") => return PushResult::BadToken,
                // Only an argument error about the token itself clears it.
                (400, "INVALID_ARGUMENT") if text.to_ascii_lowercase().contains("token") => {
                    return PushResult::BadToken;
                }
                (401, _) if attempt == 0 => {
                    renew = true;
                    continue;
                }
                (401, _) => return PushResult::Retryable("401 after renewing the token".into()),
                (429, _) | (500..=599, _) => {
                    let after =
                        retry_after.map_or(String::new(), |s| format!(", retry after {s} s"));
                    return PushResult::Retryable(format!("{status} {code}{after}"));
                }
                _ => return PushResult::Failed(format!("{status} {code}: {text}")),
            }
        }
        PushResult::Failed("unreachable".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_dropped_when_the_data_would_pass_4_kb() {
        let cursor = Cursor::from_seq(42);
        let few: Vec<VaultPath> = (0..3)
            .map(|i| VaultPath::parse(&format!("thoughts/{i}.md")).unwrap())
            .collect();
        let d = data(cursor, Some(&few));
        assert_eq!(d["cursor"], "c42");
        assert_eq!(
            d["paths"],
            r#"["thoughts/0.md","thoughts/1.md","thoughts/2.md"]"#
        );
        let many: Vec<VaultPath> = (0..400)
            .map(|i| VaultPath::parse(&format!("thoughts/a long note name {i}.md")).unwrap())
            .collect();
        let d = data(cursor, Some(&many));
        assert!(d.get("paths").is_none());
        assert!(data_bytes(&d) <= MAX_DATA_BYTES);
        assert!(data(cursor, None).get("paths").is_none());
    }
}
