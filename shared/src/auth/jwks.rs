//! A provider's signing keys (JWKS), fetched over HTTPS and cached for the life of the warm
//! Lambda. The cache honours `Cache-Control: max-age`; a token with a `kid` the cache does
//! not know triggers at most one refetch per `min_refetch_interval` (providers rotate keys,
//! but a flood of made-up `kid`s must not turn into a flood of fetches).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("no key with this kid")]
    UnknownKid,
    #[error("key set unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct JwksPolicy {
    /// Used when the response has no usable `max-age`.
    pub default_ttl: Duration,
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    /// Least time between two fetches caused by unknown `kid`s.
    pub min_refetch_interval: Duration,
    pub fetch_timeout: Duration,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        JwksPolicy {
            default_ttl: Duration::from_secs(3600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(86_400),
            min_refetch_interval: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(3),
        }
    }
}

pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    policy: JwksPolicy,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    keys: HashMap<String, DecodingKey>,
    expires_at: Option<Instant>,
    /// Last fetch caused by an unknown `kid`, for rate limiting.
    last_kid_refetch: Option<Instant>,
}

impl JwksCache {
    pub fn new(url: impl Into<String>, http: reqwest::Client, policy: JwksPolicy) -> Self {
        JwksCache {
            url: url.into(),
            http,
            policy,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// The RS256 key with this `kid`.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, JwksError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let fresh = state.expires_at.is_some_and(|t| now < t);
        if fresh {
            if let Some(key) = state.keys.get(kid) {
                return Ok(key.clone());
            }
            let recently = state
                .last_kid_refetch
                .is_some_and(|t| now.duration_since(t) < self.policy.min_refetch_interval);
            if recently {
                return Err(JwksError::UnknownKid);
            }
            state.last_kid_refetch = Some(now);
        }
        match self.fetch().await {
            Ok((keys, ttl)) => {
                state.keys = keys;
                state.expires_at = Some(now + ttl);
            }
            // Keep serving known keys through a provider outage.
            Err(err) if !state.keys.is_empty() => {
                tracing::warn!(url = %self.url, error = %err, "JWKS refetch failed; keeping cached keys");
                state.expires_at = Some(now + self.policy.min_refetch_interval);
            }
            Err(err) => return Err(err),
        }
        state.keys.get(kid).cloned().ok_or(JwksError::UnknownKid)
    }

    async fn fetch(&self) -> Result<(HashMap<String, DecodingKey>, Duration), JwksError> {
        let unavailable = |e: &dyn std::fmt::Display| JwksError::Unavailable(e.to_string());
        let response = self
            .http
            .get(&self.url)
            .timeout(self.policy.fetch_timeout)
            .send()
            .await
            .map_err(|e| unavailable(&e))?
            .error_for_status()
            .map_err(|e| unavailable(&e))?;
        let ttl = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(self.policy.default_ttl)
            .clamp(self.policy.min_ttl, self.policy.max_ttl);
        let set: JwkSet = response.json().await.map_err(|e| unavailable(&e))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let rsa = matches!(jwk.algorithm, AlgorithmParameters::RSA(_));
            let alg_ok = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
            if !(rsa && alg_ok) {
                continue;
            }
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, key);
                }
                Err(err) => tracing::warn!(kid, error = %err, "unusable JWK skipped"),
            }
        }
        tracing::info!(url = %self.url, keys = keys.len(), ttl_secs = ttl.as_secs(), "JWKS fetched");
        Ok((keys, ttl))
    }
}

/// `max-age` of a Cache-Control header value.
fn max_age(header: &str) -> Option<Duration> {
    header.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") {
            value
                .trim()
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=21600, must-revalidate, no-transform"),
            Some(Duration::from_secs(21600))
        );
        assert_eq!(max_age("max-age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }
}
