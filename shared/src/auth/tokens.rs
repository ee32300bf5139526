//! Our tokens. Access tokens are short-lived HS256 JWTs; refresh tokens are opaque strings
//! of which only the SHA-256 is stored, rotated on every use. A family starts with a random
//! token; each successor is an HMAC of its predecessor under a server key, so a refresh
//! retried after its answer was lost recomputes the very same successor (see
//! [`crate::db::tokens::rotate`]).

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::config::TokenConfig;
use crate::domain::{DeviceId, UserId};
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_id: Option<DeviceId>,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

/// Issues and verifies our tokens; built once per cold start.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    refresh_ttl: Duration,
    /// Key of the successor HMAC, derived from `JWT_SECRET` (never the signing key itself).
    successor_key: [u8; 32],
}

/// A freshly minted refresh token: the value goes to the client, the hash to the database.
pub struct NewRefreshToken {
    pub token: String,
    pub hash: [u8; 32],
    pub expires_at: chrono::DateTime<Utc>,
}

impl TokenIssuer {
    pub fn new(config: &TokenConfig) -> Self {
        let secret = config.jwt_secret.expose().as_bytes();
        // Pinned algorithm: a token claiming RS256, `none` or anything else is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        TokenIssuer {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            successor_key: Sha256::new()
                .chain_update(b"steel-notes-sync refresh successor\0")
                .chain_update(secret)
                .finalize()
                .into(),
        }
    }

    pub fn access_ttl_secs(&self) -> u64 {
        self.access_ttl.as_secs()
    }

    pub fn issue_access(
        &self,
        user_id: UserId,
        device_id: Option<DeviceId>,
    ) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id,
            device_id,
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// The caller an access token names, if its signature, algorithm, issuer, audience and
    /// expiry are right. Every failure is the same 401.
    pub fn verify_access(&self, token: &str) -> Result<Caller, ApiError> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|err| {
                tracing::debug!(error = %err, "access token refused");
                ApiError::unauthorized(ErrorCode::InvalidToken)
            })?;
        Ok(Caller {
            user_id: data.claims.sub,
            device_id: data.claims.device_id,
        })
    }

    /// The first token of a new family: 256 random bits.
    pub fn new_refresh_token(&self) -> Result<NewRefreshToken, ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("getrandom: {e}")))?;
        self.refresh_token_from(bytes)
    }

    /// The token that follows `old` in its family: HMAC-SHA256(server key, old). As
    /// unguessable as a random token to anyone without the key, and the same every time
    /// `old` is presented.
    pub fn successor_of(&self, old: &str) -> Result<NewRefreshToken, ApiError> {
        use hmac::{Mac, SimpleHmac};
        let mut mac = SimpleHmac::<Sha256>::new_from_slice(&self.successor_key)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hmac key: {e}")))?;
        mac.update(old.as_bytes());
        self.refresh_token_from(mac.finalize().into_bytes().into())
    }

    fn refresh_token_from(&self, bytes: [u8; 32]) -> Result<NewRefreshToken, ApiError> {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Ok(NewRefreshToken {
            hash: hash_refresh_token(&token),
            token,
            expires_at: Utc::now()
                + chrono::Duration::from_std(self.refresh_ttl).map_err(ApiError::internal)?,
        })
    }
}

/// What the database stores of a refresh token.
pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config(secret: &str) -> TokenConfig {
        TokenConfig {
            jwt_secret: Secret::new(secret),
            issuer: "steel-notes-sync".into(),
            audience: "steel-notes-api".into(),
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(30 * 86_400),
        }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn access_tokens_round_trip() {
        let issuer = TokenIssuer::new(&config(SECRET));
        let user = UserId::new_random();
        let device = DeviceId::new_random();
        let token = issuer.issue_access(user, Some(device)).expect("token");
        let caller = issuer.verify_access(&token).expect("valid");
        assert_eq!((caller.user_id, caller.device_id), (user, Some(device)));
        let token = issuer.issue_access(user, None).expect("token");
        assert_eq!(issuer.verify_access(&token).expect("valid").device_id, None);
    }

    #[test]
    fn foreign_or_tampered_tokens_are_refused() {
        let issuer = TokenIssuer::new(&config(SECRET));
        let other = TokenIssuer::new(&config("another-secret-another-secret-xx"));
        let token = other
            .issue_access(UserId::new_random(), None)
            .expect("token");
        assert_eq!(
            issuer.verify_access(&token).expect_err("bad sig").status(),
            401
        );
        let mut tampered = issuer
            .issue_access(UserId::new_random(), None)
            .expect("token");
        tampered.pop();
        assert!(issuer.verify_access(&tampered).is_err());
        assert!(issuer.verify_access("").is_err());
        assert!(issuer.verify_access("a.b.c").is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let issuer = TokenIssuer::new(&config(SECRET));
        let a = issuer.new_refresh_token().expect("a");
        let b = issuer.new_refresh_token().expect("b");
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 43, "256 bits, base64url");
        assert_eq!(a.hash, hash_refresh_token(&a.token));
        assert!(a.expires_at > Utc::now() + chrono::Duration::days(29));
    }
}
