//! The APNs stand-in: a local HTTP/2 server (wiremock) that records every push and answers
//! by device token, and an `ApnsClient` pointed at it that signs with the test key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use steel_core::config::{ApnsCredentials, Secret};
use steel_core::notifier::apns::{ApnsClient, TokenPolicy};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::services::fixture;

/// The app's bundle id, the topic of every push.
pub const TOPIC: &str = "com.steelnotes.app";
pub const KEY_ID: &str = "KEYID12345";
pub const TEAM_ID: &str = "TEAMID6789";

/// Answers by device token: `gone-*` 410, `stale-*` 410 with an old timestamp, `bad-*` 400,
/// `busy-*` 429, `down-*` 503, `renew-*` 403 ExpiredProviderToken once then 200, else 200.
struct FakeApns {
    renew_calls: AtomicUsize,
}

impl Respond for FakeApns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let token = request.url.path().rsplit('/').next().unwrap_or_default();
        let reason = |status: u16, reason: &str| {
            ResponseTemplate::new(status).set_body_json(json!({"reason": reason}))
        };
        if token.starts_with("gone-") {
            let ts = chrono::Utc::now().timestamp_millis() + 60_000;
            ResponseTemplate::new(410)
                .set_body_json(json!({"reason": "Unregistered", "timestamp": ts}))
        } else if token.starts_with("stale-") {
            ResponseTemplate::new(410)
                .set_body_json(json!({"reason": "ExpiredToken", "timestamp": 1_000}))
        } else if token.starts_with("bad-") {
            reason(400, "BadDeviceToken")
        } else if token.starts_with("busy-") {
            reason(429, "TooManyRequests")
        } else if token.starts_with("down-") {
            reason(503, "ServiceUnavailable")
        } else if token.starts_with("renew-")
            && self.renew_calls.fetch_add(1, Ordering::SeqCst) == 0
        {
            reason(403, "ExpiredProviderToken")
        } else {
            ResponseTemplate::new(200)
        }
    }
}

/// One push as the stand-in received it.
pub struct Push {
    /// `/prod/3/device/<token>` or `/sandbox/3/device/<token>`.
    pub path: String,
    pub headers: wiremock::http::HeaderMap,
    pub payload: Value,
}

impl Push {
    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

pub struct Apns {
    server: MockServer,
    pub client: Arc<ApnsClient>,
}

impl Apns {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(FakeApns {
                renew_calls: AtomicUsize::new(0),
            })
            .mount(&server)
            .await;
        let credentials = ApnsCredentials {
            key: Secret::new(std::fs::read_to_string(fixture("apns-key.p8")).expect("p8")),
            key_id: KEY_ID.into(),
            team_id: TEAM_ID.into(),
            topic: TOPIC.into(),
            production_url: format!("{}/prod", server.uri()),
            sandbox_url: format!("{}/sandbox", server.uri()),
        };
        let policy = TokenPolicy {
            min_interval: std::time::Duration::ZERO,
            ..TokenPolicy::default()
        };
        let client = Arc::new(ApnsClient::new(credentials, policy).expect("client"));
        Apns { server, client }
    }

    /// The notifier's push services: this stand-in's APNs alone.
    pub fn pushers(&self) -> steel_core::notifier::Pushers {
        steel_core::notifier::Pushers::apns(self.client.clone())
    }

    /// Every push received, in arrival order.
    pub async fn pushes(&self) -> Vec<Push> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| Push {
                payload: serde_json::from_slice(&r.body).expect("JSON payload"),
                path: r.url.path().to_owned(),
                headers: r.headers,
            })
            .collect()
    }
}
