//! `dev-token`: mints a Sign in with Apple (or Google) style identity token signed with the
//! development key in `scripts/dev-idp/`, for `make dev`. The backend verifies it exactly as
//! it verifies Apple's, against the local JWKS that `make dev` serves; there is no switch
//! that skips verification.
//!
//! Usage: dev-token [--sub SUB] [--provider apple|google] [--aud AUD] [--nonce RAW] [--email E]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};

const DEV_KEY: &str = include_str!("../../../scripts/dev-idp/dev-idp-key.pem");
const DEV_KID: &str = "steel-dev-1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sub = "dev-user".to_owned();
    let mut provider = "apple".to_owned();
    let mut aud: Option<String> = None;
    let mut nonce: Option<String> = None;
    let mut email: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sub" => sub = value()?,
            "--provider" => provider = value()?,
            "--aud" => aud = Some(value()?),
            "--nonce" => nonce = Some(value()?),
            "--email" => email = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "dev-token [--sub SUB] [--provider apple|google] [--aud AUD] [--nonce RAW] [--email E]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let first_id = |var: &str, fallback: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| fallback.to_owned())
    };
    let (iss, aud, nonce_claim) = match provider.as_str() {
        // Apple puts the SHA-256 of the app's raw nonce in the token.
        "apple" => (
            "https://appleid.apple.com",
            aud.unwrap_or_else(|| first_id("APPLE_CLIENT_ID", "com.steelnotes.dev")),
            nonce.map(|n| hex::encode(Sha256::digest(n.as_bytes()))),
        ),
        "google" => (
            "https://accounts.google.com",
            aud.unwrap_or_else(|| {
                first_id("GOOGLE_CLIENT_IDS", "steel-dev.apps.googleusercontent.com")
            }),
            nonce,
        ),
        other => return Err(format!("unknown provider {other}").into()),
    };
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": iss, "aud": aud, "sub": sub, "iat": now, "exp": now + 600,
        "email": email.unwrap_or_else(|| format!("{sub}@example.com")),
        "email_verified": true,
    });
    if let Some(n) = nonce_claim {
        claims["nonce"] = json!(n);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(DEV_KID.into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(DEV_KEY.as_bytes())?,
    )?;
    println!("{token}");
    Ok(())
}
