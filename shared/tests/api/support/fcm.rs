//! The FCM stand-in: a local HTTP server (wiremock) serving Google's OAuth token endpoint and
//! FCM's send endpoint. The token endpoint checks the JWT bearer grant as Google does: its
//! RS256 signature against the service account's public key, issuer, audience, scope and
//! lifetime. The send endpoint checks the bearer is a token it issued and has not revoked,
//! records every message, and answers by device token: `gone-*` 404 UNREGISTERED, `bad-*` 400
//! INVALID_ARGUMENT about the token, `busy-*` 429 with Retry-After, `down-*` 503, else 200;
//! [`Fcm::set_down`] makes every send a 503.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use steel_core::config::{FcmSettings, Secret};
use steel_core::notifier::fcm::FcmClient;
use steel_core::notifier::google_auth::FCM_SCOPE;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::services::fixture;

pub const PROJECT: &str = "steel-test";
const CLIENT_EMAIL: &str = "notifier@steel-test.iam.gserviceaccount.com";

#[derive(Default)]
struct State {
    issued: Mutex<Vec<String>>,
    revoked: Mutex<HashSet<String>>,
    grants: AtomicUsize,
    down: AtomicBool,
    /// (bearer, body) of every message answered 200.
    accepted: Mutex<Vec<(String, Value)>>,
}

struct TokenEndpoint {
    state: Arc<State>,
    audience: String,
    key: DecodingKey,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let field = |name: &str| {
            body.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_owned()
        };
        let refuse = |why: &str| {
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": why}))
        };
        if field("grant_type") != "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" {
            return refuse("grant_type");
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[CLIENT_EMAIL]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        let claims =
            match jsonwebtoken::decode::<Value>(&field("assertion"), &self.key, &validation) {
                Ok(data) => data.claims,
                Err(e) => return refuse(&format!("assertion: {e}")),
            };
        if claims["scope"] != FCM_SCOPE {
            return refuse("scope");
        }
        let n = self.state.grants.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("ya29.stand-in-{n}");
        self.state.issued.lock().unwrap().push(token.clone());
        ResponseTemplate::new(200).set_body_json(
            json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
        )
    }
}

struct SendEndpoint {
    state: Arc<State>,
}

fn fcm_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    let status_text = match status {
        404 => "NOT_FOUND",
        400 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        401 => "UNAUTHENTICATED",
        _ => "UNAVAILABLE",
    };
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "code": status, "message": message, "status": status_text,
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}}))
}

impl Respond for SendEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let bearer = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let known = self.state.issued.lock().unwrap().contains(&bearer);
        if !known || self.state.revoked.lock().unwrap().contains(&bearer) {
            return fcm_error(
                401,
                "THIRD_PARTY_AUTH_ERROR",
                "Request had invalid authentication credentials.",
            );
        }
        if self.state.down.load(Ordering::SeqCst) {
            return fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.");
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let token = body["message"]["token"].as_str().unwrap_or_default();
        if token.starts_with("gone-") {
            fcm_error(404, "UNREGISTERED", "Requested entity was not found.")
        } else if token.starts_with("bad-") {
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
            )
        } else if token.starts_with("busy-") {
            fcm_error(429, "QUOTA_EXCEEDED", "Quota exceeded.").insert_header("retry-after", "30")
        } else if token.starts_with("down-") {
            fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.")
        } else {
            self.state.accepted.lock().unwrap().push((bearer, body));
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": format!("projects/{PROJECT}/messages/1")}))
        }
    }
}

/// One message as FCM received it, with the bearer token it came with.
pub struct Message {
    pub bearer: String,
    pub body: Value,
}

pub struct Fcm {
    server: MockServer,
    state: Arc<State>,
    pub client: Arc<FcmClient>,
}

impl Fcm {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(State::default());
        let token_uri = format!("{}/token", server.uri());
        let public = std::fs::read(fixture("idp-key.pub.pem")).expect("public key");
        Mock::given(wiremock::matchers::path("/token"))
            .respond_with(TokenEndpoint {
                state: state.clone(),
                audience: token_uri.clone(),
                key: DecodingKey::from_rsa_pem(&public).expect("RSA public key"),
            })
            .mount(&server)
            .await;
        Mock::given(wiremock::matchers::path(format!(
            "/v1/projects/{PROJECT}/messages:send"
        )))
        .respond_with(SendEndpoint {
            state: state.clone(),
        })
        .mount(&server)
        .await;
        let key = json!({"type": "service_account", "project_id": PROJECT,
                         "private_key_id": "test", "client_email": CLIENT_EMAIL,
                         "private_key": std::fs::read_to_string(fixture("idp-key.pem")).expect("key"),
                         "token_uri": token_uri});
        let settings = FcmSettings {
            service_account: Some(Secret::new(key.to_string())),
            project_id: None,
            url: server.uri(),
        };
        let client = Arc::new(FcmClient::new(&settings).expect("FCM client"));
        Fcm {
            server,
            state,
            client,
        }
    }

    /// Access tokens granted so far.
    pub fn grants(&self) -> usize {
        self.state.grants.load(Ordering::SeqCst)
    }

    /// Every token granted so far stops working (FCM answers 401 to it).
    pub fn revoke_tokens(&self) {
        let issued = self.state.issued.lock().unwrap().clone();
        self.state.revoked.lock().unwrap().extend(issued);
    }

    /// Every send answers 503 while `down`.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// The messages FCM accepted (200), in arrival order.
    pub fn delivered(&self) -> Vec<Message> {
        self.state
            .accepted
            .lock()
            .unwrap()
            .iter()
            .map(|(bearer, body)| Message {
                bearer: bearer.clone(),
                body: body.clone(),
            })
            .collect()
    }

    /// Every send request, whatever it was answered.
    pub async fn sends(&self) -> Vec<Message> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().ends_with(":send"))
            .map(|r| Message {
                bearer: r
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_owned(),
                body: serde_json::from_slice(&r.body).expect("JSON message"),
            })
            .collect()
    }
}
