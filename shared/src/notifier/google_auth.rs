//! OAuth 2.0 access tokens for FCM from a Google service-account key: a JWT signed with the
//! key (RS256) is exchanged at the key's `token_uri` (the JWT bearer grant, RFC 7523), and the
//! access token is kept for the warm instance and renewed five minutes before it expires.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::Secret;

/// What FCM's send API asks of a token.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Renewed this long before Google says it expires.
const EARLY: Duration = Duration::from_secs(5 * 60);

/// The parts of a service-account key file that sign and route the grant.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    pub token_uri: String,
    #[serde(default)]
    pub project_id: Option<String>,
}

impl ServiceAccount {
    /// Parses the key file's JSON (as Firebase's console hands it out).
    pub fn parse(key: &Secret) -> Result<Self, anyhow::Error> {
        let account: ServiceAccount = serde_json::from_str(key.expose()).map_err(|e| {
            anyhow::anyhow!("FCM_SERVICE_ACCOUNT is not a service-account key file: {e}")
        })?;
        anyhow::ensure!(
            account.private_key.contains("BEGIN PRIVATE KEY"),
            "FCM_SERVICE_ACCOUNT: private_key is not a PEM key"
        );
        Ok(account)
    }
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct GrantClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

struct Cached {
    token: String,
    renew_at: Instant,
}

/// Access tokens of one service account, one per warm instance.
pub struct AccessTokens {
    account: ServiceAccount,
    key: EncodingKey,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl AccessTokens {
    pub fn new(account: ServiceAccount, http: reqwest::Client) -> Result<Self, anyhow::Error> {
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes()).map_err(|e| {
            anyhow::anyhow!("FCM_SERVICE_ACCOUNT: private_key is not an RSA key: {e}")
        })?;
        Ok(AccessTokens {
            account,
            key,
            http,
            cached: Mutex::new(None),
        })
    }

    /// A token good for at least five minutes; `renew`: a new one even so (FCM said 401).
    pub async fn token(&self, renew: bool) -> Result<String, anyhow::Error> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && !renew
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.grant().await?;
        let token = fresh.access_token.clone();
        *cached = Some(Cached {
            token: fresh.access_token,
            renew_at: Instant::now() + Duration::from_secs(fresh.expires_in).saturating_sub(EARLY),
        });
        Ok(token)
    }

    async fn grant(&self) -> Result<TokenAnswer, anyhow::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = GrantClaims {
            iss: &self.account.client_email,
            scope: FCM_SCOPE,
            aud: &self.account.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)?;
        let answer = self
            .http
            .post(&self.account.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            // A JWT is base64url and dots: nothing in it needs escaping in a form.
            .body(format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
            ))
            .send()
            .await?;
        let status = answer.status();
        if !status.is_success() {
            let body = answer.text().await.unwrap_or_default();
            anyhow::bail!("token endpoint answered {status}: {body}");
        }
        Ok(answer.json().await?)
    }
}
