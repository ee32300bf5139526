//! Development identity tokens: Sign in with Apple (or Google) style tokens signed with the
//! development key in `scripts/dev-idp/`, which `make dev` serves as a JWKS. The backend
//! verifies them exactly as it verifies Apple's; nothing here is a switch that skips
//! verification, and no deployed configuration trusts this key. A crate of its own, so
//! no Lambda links the key: used by the `dev-token` binary, the client's tests and the
//! benchmarks, which sign in through the local stack.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};

const DEV_KEY: &str = include_str!("../dev-idp-key.pem");
const DEV_KID: &str = "steel-dev-1";

/// What goes into a development identity token.
#[derive(Debug, Clone)]
pub struct DevToken {
    pub sub: String,
    /// `apple` or `google`.
    pub provider: String,
    /// Default: the first of `APPLE_CLIENT_ID` / `GOOGLE_CLIENT_IDS`, else the dev ids.
    pub aud: Option<String>,
    /// The raw nonce (Apple gets its SHA-256, as Apple does).
    pub nonce: Option<String>,
    pub email: Option<String>,
}

impl DevToken {
    pub fn apple(sub: &str) -> Self {
        DevToken {
            sub: sub.to_owned(),
            provider: "apple".to_owned(),
            aud: None,
            nonce: None,
            email: None,
        }
    }

    /// Signs the token, valid for ten minutes.
    pub fn mint(&self) -> Result<String, String> {
        let first_id = |var: &str, fallback: &str| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| fallback.to_owned())
        };
        let (iss, aud, nonce_claim) = match self.provider.as_str() {
            "apple" => (
                "https://appleid.apple.com",
                self.aud
                    .clone()
                    .unwrap_or_else(|| first_id("APPLE_CLIENT_ID", "com.steelnotes.dev")),
                self.nonce
                    .as_ref()
                    .map(|n| hex::encode(Sha256::digest(n.as_bytes()))),
            ),
            "google" => (
                "https://accounts.google.com",
                self.aud.clone().unwrap_or_else(|| {
                    first_id("GOOGLE_CLIENT_IDS", "steel-dev.apps.googleusercontent.com")
                }),
                self.nonce.clone(),
            ),
            other => return Err(format!("unknown provider {other}")),
        };
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": iss, "aud": aud, "sub": self.sub, "iat": now, "exp": now + 600,
            "email": self.email.clone().unwrap_or_else(|| format!("{}@example.com", self.sub)),
            "email_verified": true,
        });
        if let Some(n) = nonce_claim {
            claims["nonce"] = json!(n);
        }
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(DEV_KID.into());
        let key = EncodingKey::from_rsa_pem(DEV_KEY.as_bytes()).map_err(|e| e.to_string())?;
        jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())
    }
}
