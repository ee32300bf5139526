//! APNs over HTTP/2 with token-based authentication.
//!
//! Built on reqwest (hyper, rustls, HTTP/2) and jsonwebtoken's ES256 rather than the `a2`
//! crate: `a2` has a closed endpoint enum (no local stand-in, an old sandbox host) and does
//! not know the `ExpiredToken` reason. A plain HTTP/2 client keeps every part visible: the
//! hosts are configuration, and every APNs reason maps to one [`PushResult`].

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::ApnsCredentials;
use crate::domain::PushEnvironment;

/// When a provider token is renewed, and the least time between two renewals (APNs answers
/// `TooManyProviderTokenUpdates` to faster renewals).
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub renew_after: Duration,
    pub min_interval: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            renew_after: Duration::from_secs(50 * 60),
            min_interval: Duration::from_secs(20 * 60),
        }
    }
}

/// What one push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushResult {
    Delivered,
    /// 410: the token is no longer valid since `timestamp` (ms since the epoch, when given).
    Unregistered {
        timestamp_ms: Option<i64>,
    },
    /// 400 BadDeviceToken / DeviceTokenNotForTopic: the token will never work.
    BadToken,
    /// 429, 5xx, a network error or a provider token that still failed: try again later.
    Retryable(String),
    /// Anything else: logged, not retried.
    Failed(String),
}

#[derive(Serialize)]
struct ProviderClaims<'a> {
    iss: &'a str,
    iat: i64,
}

#[derive(Deserialize)]
struct ApnsError {
    reason: Option<String>,
    timestamp: Option<i64>,
}

struct CachedToken {
    jwt: String,
    issued: Instant,
}

/// One per cold start: one HTTP/2 connection pool, one cached provider token.
pub struct ApnsClient {
    http: reqwest::Client,
    credentials: ApnsCredentials,
    key: EncodingKey,
    policy: TokenPolicy,
    token: Mutex<Option<CachedToken>>,
}

impl ApnsClient {
    pub fn new(credentials: ApnsCredentials, policy: TokenPolicy) -> Result<Self, anyhow::Error> {
        let key = EncodingKey::from_ec_pem(credentials.key.expose().as_bytes())
            .map_err(|e| anyhow::anyhow!("APNS_KEY is not a usable ES256 key: {e}"))?;
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(600));
        // APNs is HTTPS (HTTP/2 negotiated by ALPN). A local stand-in on plain http speaks
        // HTTP/2 without TLS, which needs prior knowledge.
        let plain = |u: &str| u.starts_with("http://");
        if plain(&credentials.production_url) && plain(&credentials.sandbox_url) {
            builder = builder.http2_prior_knowledge();
        }
        Ok(ApnsClient {
            http: builder.build()?,
            credentials,
            key,
            policy,
            token: Mutex::new(None),
        })
    }

    pub fn topic(&self) -> &str {
        &self.credentials.topic
    }

    /// The current provider token; a new one when it is old, or when `renew` asks and the
    /// last one is older than the minimum interval.
    async fn provider_token(&self, renew: bool) -> Result<String, anyhow::Error> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            let age = t.issued.elapsed();
            let stale = age >= self.policy.renew_after;
            let may_renew = renew && age >= self.policy.min_interval;
            if !stale && !may_renew {
                return Ok(t.jwt.clone());
            }
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.credentials.key_id.clone());
        let claims = ProviderClaims {
            iss: &self.credentials.team_id,
            iat: chrono::Utc::now().timestamp(),
        };
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key)?;
        *cached = Some(CachedToken {
            jwt: jwt.clone(),
            issued: Instant::now(),
        });
        tracing::info!("APNs provider token issued");
        Ok(jwt)
    }

    /// Sends one background push; renews the provider token and retries once when APNs
    /// says it expired or is invalid.
    pub async fn send(
        &self,
        environment: PushEnvironment,
        device_token: &str,
        payload: &str,
        collapse_id: &str,
    ) -> PushResult {
        let base = match environment {
            PushEnvironment::Production => &self.credentials.production_url,
            PushEnvironment::Sandbox => &self.credentials.sandbox_url,
        };
        let url = format!("{base}/3/device/{device_token}");
        let mut renew = false;
        for attempt in 0..2 {
            let jwt = match self.provider_token(renew).await {
                Ok(t) => t,
                Err(e) => return PushResult::Failed(format!("provider token: {e}")),
            };
            let expiration = chrono::Utc::now().timestamp() + 3600;
            let sent = self
                .http
                .post(&url)
                .header("authorization", format!("bearer {jwt}"))
                .header("apns-push-type", "background")
                .header("apns-priority", "5")
                .header("apns-topic", &self.credentials.topic)
                .header("apns-expiration", expiration.to_string())
                .header("apns-collapse-id", collapse_id)
                .header("content-type", "application/json")
                .body(payload.to_owned())
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => return PushResult::Retryable(format!("network: {e}")),
            };
            let status = response.status().as_u16();
            if status == 200 {
                return PushResult::Delivered;
            }
            let body: ApnsError = response.json().await.unwrap_or(ApnsError {
                reason: None,
                timestamp: None,
            });
            let reason = body.reason.unwrap_or_default();
            match (status, reason.as_str()) {
                (410, "Unregistered" | "ExpiredToken") | (410, "") => {
                    return PushResult::Unregistered {
                        timestamp_ms: body.timestamp,
                    };
                }
                (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => return PushResult::BadToken,
                (403, "ExpiredProviderToken" | "InvalidProviderToken") if attempt == 0 => {
                    renew = true;
                    continue;
                }
                (403, "ExpiredProviderToken" | "InvalidProviderToken") => {
                    return PushResult::Retryable(format!("403 {reason} after renewal"));
                }
                (429, _) | (500..=599, _) => {
                    return PushResult::Retryable(format!("{status} {reason}"));
                }
                _ => return PushResult::Failed(format!("{status} {reason}")),
            }
        }
        PushResult::Failed("unreachable".into())
    }
}
