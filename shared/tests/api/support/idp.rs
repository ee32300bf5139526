//! The identity providers' stand-in: a real HTTP server (wiremock) serving the test JWKS at
//! Apple's and Google's key paths, and identity tokens signed with the test IdP key.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::services::fixture;

pub const APPLE_AUDIENCE: &str = "com.steelnotes.app";
pub const GOOGLE_AUDIENCE: &str = "1234-steel.apps.googleusercontent.com";
/// The `kid` of the test IdP key in `jwks.json`.
pub const TEST_KID: &str = "test-key-1";

pub struct Idp {
    pub server: MockServer,
}

impl Idp {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let jwks: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("jwks.json")).expect("jwks fixture"),
        )
        .expect("jwks json");
        for p in ["/apple/keys", "/google/certs"] {
            Mock::given(method("GET"))
                .and(path(p))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_json(jwks.clone())
                        .insert_header("cache-control", "public, max-age=3600"),
                )
                .mount(&server)
                .await;
        }
        Idp { server }
    }

    pub fn apple_url(&self) -> String {
        format!("{}/apple/keys", self.server.uri())
    }

    pub fn google_url(&self) -> String {
        format!("{}/google/certs", self.server.uri())
    }

    /// How many times the keys at `p` were fetched.
    pub async fn fetches(&self, p: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == p)
            .count()
    }
}

/// A token over `claims` signed with `key_file` (RS256), with `kid` in its header.
pub fn id_token_with(claims: &Value, kid: Option<&str>, key_file: &str) -> String {
    let pem = std::fs::read(fixture(key_file)).expect("key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&pem).expect("rsa key"),
    )
    .expect("sign")
}

/// An identity token signed by the test IdP key.
pub fn id_token(claims: &Value) -> String {
    id_token_with(claims, Some(TEST_KID), "idp-key.pem")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What Sign in with Apple puts in a token for `sub` (booleans as strings, as Apple sends).
pub fn apple_claims(sub: &str) -> Value {
    json!({
        "iss": "https://appleid.apple.com",
        "aud": APPLE_AUDIENCE,
        "exp": now() + 600,
        "iat": now(),
        "sub": sub,
        "email": format!("{sub}@privaterelay.appleid.com"),
        "email_verified": "true",
        "is_private_email": "true",
    })
}

pub fn google_claims(sub: &str) -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "aud": GOOGLE_AUDIENCE,
        "exp": now() + 600,
        "iat": now(),
        "sub": sub,
        "email": "anna@example.com",
        "email_verified": true,
    })
}

/// The body of `POST /auth/login` with an Apple token for `sub`.
pub fn apple_login(sub: &str) -> Value {
    json!({"provider": "apple", "identity_token": id_token(&apple_claims(sub))})
}

/// Unpadded base64url, as in a JWT.
pub fn b64url(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}
