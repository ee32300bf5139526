//! Verification of Sign in with Apple and Google identity tokens.
//!
//! Apple: RS256, `iss` = `https://appleid.apple.com`, `aud` one of our client ids, and when
//! the app sent a nonce, the token's `nonce` is the SHA-256 (hex) of the raw nonce, because
//! the app hands Apple the hash. Google: RS256, `iss` = `accounts.google.com` with or
//! without `https://`, `aud` one of our client ids, `nonce` as sent.

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

use crate::auth::jwks::{JwksCache, JwksError, JwksPolicy};
use crate::config::Config;
use crate::domain::Provider;
use crate::error::{ApiError, ErrorCode};

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub provider: Provider,
    pub subject: String,
    /// Only when the provider vouches for it.
    pub email: Option<String>,
}

struct ProviderCheck {
    issuers: Vec<String>,
    audiences: Vec<String>,
    jwks: JwksCache,
}

/// Both providers' settings and key caches; built once per cold start.
pub struct IdentityVerifier {
    apple: Option<ProviderCheck>,
    google: Option<ProviderCheck>,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    email_verified: Option<bool>,
    #[serde(default, deserialize_with = "flexible_bool")]
    #[allow(dead_code)]
    is_private_email: Option<bool>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Apple sends `email_verified` and `is_private_email` as booleans or as "true"/"false".
fn flexible_bool<'de, D: Deserializer<'de>>(de: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flexible {
        Bool(bool),
        Text(String),
    }
    Ok(match Option::<Flexible>::deserialize(de)? {
        None => None,
        Some(Flexible::Bool(b)) => Some(b),
        Some(Flexible::Text(t)) => match t.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
    })
}

const MAX_IDENTITY_TOKEN_BYTES: usize = 16 * 1024;

impl IdentityVerifier {
    pub fn from_config(config: &Config, http: reqwest::Client, policy: JwksPolicy) -> Self {
        let check = |issuers: &[&str], audiences: &[String], url: &str| {
            (!audiences.is_empty()).then(|| ProviderCheck {
                issuers: issuers.iter().map(|s| s.to_string()).collect(),
                audiences: audiences.to_vec(),
                jwks: JwksCache::new(url, http.clone(), policy.clone()),
            })
        };
        IdentityVerifier {
            apple: check(
                &["https://appleid.apple.com"],
                &config.apple_client_ids,
                &config.apple_jwks_url,
            ),
            google: check(
                &["accounts.google.com", "https://accounts.google.com"],
                &config.google_client_ids,
                &config.google_jwks_url,
            ),
        }
    }

    pub fn is_enabled(&self, provider: Provider) -> bool {
        self.check(provider).is_some()
    }

    fn check(&self, provider: Provider) -> Option<&ProviderCheck> {
        match provider {
            Provider::Apple => self.apple.as_ref(),
            Provider::Google => self.google.as_ref(),
        }
    }

    /// Verifies `token` as an identity token of `provider`. Any defect is the same 401
    /// `invalid_identity_token`; an unreachable key set is a 503.
    pub async fn verify(
        &self,
        provider: Provider,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<VerifiedIdentity, ApiError> {
        let check = self.check(provider).ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::ProviderNotEnabled,
                format!("sign-in with {provider} is not enabled"),
            )
        })?;
        let refuse = |why: &str| {
            tracing::info!(%provider, reason = why, "identity token refused");
            ApiError::unauthorized(ErrorCode::InvalidIdentityToken)
        };
        if token.is_empty() || token.len() > MAX_IDENTITY_TOKEN_BYTES {
            return Err(refuse("size"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| refuse("header"))?;
        if header.alg != Algorithm::RS256 {
            return Err(refuse("algorithm"));
        }
        let kid = header.kid.ok_or_else(|| refuse("no kid"))?;
        let key = check.jwks.key(&kid).await.map_err(|err| match err {
            JwksError::UnknownKid => refuse("unknown kid"),
            JwksError::Unavailable(detail) => {
                tracing::error!(%provider, detail, "identity provider keys unavailable");
                ApiError::ServiceUnavailable {
                    code: ErrorCode::IdentityProviderUnavailable,
                }
            }
        })?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&check.issuers);
        validation.set_audience(&check.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 60;
        let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
            .map_err(|e| refuse(&e.to_string()))?
            .claims;
        if claims.sub.is_empty() || claims.sub.len() > 255 {
            return Err(refuse("sub"));
        }
        if let Some(raw) = nonce {
            let expected = match provider {
                Provider::Apple => hex::encode(Sha256::digest(raw.as_bytes())),
                Provider::Google => raw.to_owned(),
            };
            if claims.nonce.as_deref() != Some(expected.as_str()) {
                return Err(refuse("nonce"));
            }
        }
        // Apple only hands out verified (or relay) addresses; Google says so per token.
        let email = match provider {
            Provider::Apple => claims
                .email
                .filter(|_| claims.email_verified != Some(false)),
            Provider::Google => claims.email.filter(|_| claims.email_verified == Some(true)),
        };
        Ok(VerifiedIdentity {
            provider,
            subject: claims.sub,
            email,
        })
    }
}
