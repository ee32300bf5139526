//! Test harness: builds the app state around a fresh test database and the local services
//! (settings from `scripts/services.sh`), and calls handlers through the real HTTP adapter.
#![allow(dead_code)]

pub mod openapi;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderValue, Method};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use sqlx::PgPool;
use steel_core::auth::jwks::JwksPolicy;
use steel_core::http::ApiRequest;
use steel_core::runtime::{self, AccountState, AppState, LoginState, VaultState, WriteState};
use steel_core::{ApiError, Config};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const APPLE_AUDIENCE: &str = "com.steelnotes.app";
pub const GOOGLE_AUDIENCE: &str = "1234-steel.apps.googleusercontent.com";
pub const TEST_KID: &str = "test-key-1";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Every function's state around one test database: a handler takes the one its function
/// builds (`Serves`), and the test reads the shared parts through `Deref` to [`AppState`].
/// A state a test did not wire (e.g. the bucket in an auth test) panics when asked for.
#[derive(Clone)]
pub struct TestState {
    pub app: AppState,
    pub vault: Option<VaultState>,
    pub write: Option<WriteState>,
    pub account: Option<AccountState>,
    pub login: Option<LoginState>,
}

impl std::ops::Deref for TestState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl TestState {
    pub fn bare(app: AppState) -> Self {
        TestState {
            app,
            vault: None,
            write: None,
            account: None,
            login: None,
        }
    }

    pub fn storage(&self) -> &steel_core::storage::Storage {
        &self
            .vault
            .as_ref()
            .expect("no bucket wired in this test")
            .storage
    }

    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        self.write
            .as_ref()
            .expect("no queue wired in this test")
            .changes
            .client()
    }
}

/// The state a handler of type `S` is served with.
pub trait Serves<S> {
    fn state(&self) -> &S;
}

macro_rules! serves {
    ($($ty:ty => $field:ident),+) => {$(
        impl Serves<$ty> for TestState {
            fn state(&self) -> &$ty {
                self.$field
                    .as_ref()
                    .unwrap_or_else(|| panic!("{} not wired in this test", stringify!($ty)))
            }
        }
    )+};
}
serves!(VaultState => vault, WriteState => write, AccountState => account, LoginState => login);

impl Serves<AppState> for TestState {
    fn state(&self) -> &AppState {
        &self.app
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// A settings lookup from the environment the services script exported, with overrides.
pub fn config(overrides: &[(&str, &str)]) -> Config {
    let overrides: HashMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| {
        overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .or_else(|| match name {
                "JWT_SECRET" => Some(JWT_SECRET.into()),
                // Not used by tests that go through a pool they were handed.
                "DATABASE_URL" => Some("postgres://unused@127.0.0.1:1/unused".into()),
                "S3_BUCKET" => Some("steel-vault-local".into()),
                "S3_REGION" => Some("us-east-1".into()),
                _ => None,
            })
    })
    .expect("test config")
}

/// The identity provider stand-in: a real HTTP server serving the test JWKS.
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

/// App state for auth tests: identity verification against `idp`, both providers enabled.
pub async fn auth_state(pool: PgPool, idp: &Idp) -> TestState {
    let config = config(&[
        (
            "APPLE_CLIENT_ID",
            &format!("{APPLE_AUDIENCE},com.steelnotes.web"),
        ),
        ("GOOGLE_CLIENT_IDS", GOOGLE_AUDIENCE),
        ("APPLE_JWKS_URL", &idp.apple_url()),
        ("GOOGLE_JWKS_URL", &idp.google_url()),
    ]);
    let policy = JwksPolicy {
        fetch_timeout: Duration::from_secs(5),
        ..JwksPolicy::default()
    };
    login_state(AppState::new(config, pool), policy)
}

/// `app` with identity verification under `policy`.
pub fn login_state(app: AppState, policy: JwksPolicy) -> TestState {
    TestState {
        login: Some(LoginState::new(app.clone(), policy).expect("login state")),
        ..TestState::bare(app)
    }
}

/// An identity token signed with the test IdP key (or `key_file`).
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

pub fn id_token(claims: &Value) -> String {
    id_token_with(claims, Some(TEST_KID), "idp-key.pem")
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn apple_claims(sub: &str) -> Value {
    serde_json::json!({
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
    serde_json::json!({
        "iss": "https://accounts.google.com",
        "aud": GOOGLE_AUDIENCE,
        "exp": now() + 600,
        "iat": now(),
        "sub": sub,
        "email": "anna@example.com",
        "email_verified": true,
    })
}

/// A handler's answer, parsed.
#[derive(Debug)]
pub struct Answer {
    pub status: i64,
    pub body: Value,
    pub www_authenticate: Option<String>,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// An API Gateway v2 event as the router would send it.
pub fn event(
    method_: Method,
    path_: &str,
    body: Option<&Value>,
    bearer: Option<&str>,
) -> ApiGatewayV2httpRequest {
    let mut e = ApiGatewayV2httpRequest::default();
    e.raw_path = Some(path_.into());
    e.route_key = Some(format!("{method_} {path_}"));
    e.request_context.http.method = method_;
    e.request_context.request_id = Some(format!("test-{}", uuid::Uuid::new_v4()));
    if let Some(b) = body {
        e.body = Some(b.to_string());
        e.headers
            .insert("content-type", HeaderValue::from_static("application/json"));
    }
    if let Some(t) = bearer {
        e.headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).expect("header"),
        );
    }
    e
}

/// Runs `event` through the adapter into `handler`, as the Lambda runtime would.
pub async fn call_event<'a, S, F, Fut>(
    state: &'a TestState,
    e: ApiGatewayV2httpRequest,
    handler: F,
) -> Answer
where
    S: AsRef<AppState> + 'a,
    TestState: Serves<S>,
    F: FnOnce(&'a S, ApiRequest) -> Fut,
    Fut: Future<Output = Result<steel_core::http::ApiResponse, ApiError>>,
{
    // Every answer a test sees is checked against openapi.yaml first.
    let method_ = e.request_context.http.method.to_string();
    let path_ = e.raw_path.clone().unwrap_or_default();
    let response = runtime::handle_event(
        state.state(),
        LambdaEvent::new(e, Context::default()),
        handler,
    )
    .await;
    let body = match response.body {
        Some(Body::Text(t)) => serde_json::from_str(&t).expect("JSON body"),
        other => panic!("unexpected body {other:?}"),
    };
    openapi::validate_response(
        &method_,
        &path_,
        u16::try_from(response.status_code).expect("HTTP status"),
        &response.headers,
        &body,
    );
    assert_eq!(
        response
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("")),
        Some("application/json")
    );
    Answer {
        status: response.status_code,
        body,
        www_authenticate: response
            .headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("").to_owned()),
    }
}

pub async fn call<'a, S, F, Fut>(
    state: &'a TestState,
    handler: F,
    method_: Method,
    path_: &str,
    body: Option<&Value>,
    bearer: Option<&str>,
) -> Answer
where
    S: AsRef<AppState> + 'a,
    TestState: Serves<S>,
    F: FnOnce(&'a S, ApiRequest) -> Fut,
    Fut: Future<Output = Result<steel_core::http::ApiResponse, ApiError>>,
{
    call_event(state, event(method_, path_, body, bearer), handler).await
}

/// A sample event from `events/`.
pub fn sample_event(name: &str) -> ApiGatewayV2httpRequest {
    let text = std::fs::read_to_string(events_dir().join(name)).expect(name);
    serde_json::from_str(&text).expect(name)
}

/// App state for vault tests: S3 (s3s-fs) and a queue of the test's own on moto, so
/// parallel tests never read each other's notices.
pub async fn vault_state(pool: PgPool) -> (TestState, String) {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(format!("test-{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .expect("create queue (is moto running? use scripts/with-services.sh)")
        .queue_url
        .expect("queue url");
    let purge_queue = sqs
        .create_queue()
        .queue_name(format!("test-purge-{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .expect("create purge queue")
        .queue_url
        .expect("queue url");
    let config = config(&[
        ("SQS_QUEUE_URL", &queue),
        ("PURGE_QUEUE_URL", &purge_queue),
        ("VAULT_QUOTA_BYTES", "1000000"),
    ]);
    let app = AppState::new(config, pool);
    let state = TestState {
        vault: Some(VaultState::new(app.clone()).await),
        write: Some(WriteState::new(app.clone()).await.expect("write state")),
        account: Some(AccountState::new(app.clone()).await.expect("account state")),
        ..TestState::bare(app)
    };
    (state, queue)
}

/// Every message on `queue` right now, bodies parsed.
pub async fn drain_queue(state: &TestState, queue: &str) -> Vec<Value> {
    let sqs = state.sqs();
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push(serde_json::from_str(m.body().unwrap_or("null")).expect("notice JSON"));
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete message");
        }
    }
}

/// A user with one device and an access token bound to it.
pub struct TestDevice {
    pub user_id: steel_core::domain::UserId,
    pub device_id: steel_core::domain::DeviceId,
    pub token: String,
}

pub async fn new_user_device(state: &TestState, sub: &str) -> TestDevice {
    let user = steel_core::db::users::find_or_create_user(
        &state.db,
        steel_core::domain::Provider::Apple,
        sub,
        None,
    )
    .await
    .expect("user");
    another_device(state, user.id, "Mac").await
}

pub async fn another_device(
    state: &TestState,
    user_id: steel_core::domain::UserId,
    name: &str,
) -> TestDevice {
    let device = steel_core::db::devices::register_device(
        &state.db,
        user_id,
        &steel_core::db::DeviceUpdate {
            device_name: name.into(),
            platform: steel_core::domain::Platform::Macos,
            push_token: None,
            push_environment: steel_core::domain::PushEnvironment::Production,
        },
    )
    .await
    .expect("device");
    TestDevice {
        user_id,
        device_id: device.id,
        token: state
            .tokens
            .issue_access(user_id, Some(device.id))
            .expect("token"),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    steel_core::domain::ContentHash::of(bytes).to_hex()
}

/// PUTs `bytes` to an upload entry of a push answer, with the headers it prescribes.
pub async fn upload(http: &reqwest::Client, entry: &Value, bytes: &[u8]) -> reqwest::Response {
    let url = entry["upload_url"].as_str().expect("upload_url");
    let mut req = http.put(url).body(bytes.to_vec());
    for (k, v) in entry["headers"].as_object().expect("headers") {
        // reqwest sets these two itself (the length from the body).
        if k == "host" || k == "content-length" {
            continue;
        }
        req = req.header(k.as_str(), v.as_str().expect("header value"));
    }
    req.send().await.expect("PUT")
}

/// `POST /auth/refresh` with `token`.
pub async fn refresh_with(state: &TestState, token: &str) -> Answer {
    call(
        state,
        steel_core::handlers::refresh::handle,
        Method::POST,
        "/auth/refresh",
        Some(&serde_json::json!({"refresh_token": token})),
        None,
    )
    .await
}

/// The user, device and access token of a login (or register) answer.
pub fn device_of(answer: &Value) -> TestDevice {
    let id = |field: &str| {
        answer[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {answer}"))
            .to_owned()
    };
    TestDevice {
        user_id: id("user_id").parse().expect("user uuid"),
        device_id: id("device_id").parse().expect("device uuid"),
        token: id("access_token"),
    }
}

/// push → PUT (when the server asks for the bytes) → confirm one file, asserting each step
/// succeeds; returns the confirm answer.
pub async fn sync_file(
    state: &TestState,
    http: &reqwest::Client,
    dev: &TestDevice,
    path: &str,
    base: i64,
    bytes: &[u8],
) -> Answer {
    let files = serde_json::json!({"files": [{"path": path, "base_version": base,
        "content_hash": sha256_hex(bytes), "size_bytes": bytes.len()}]});
    let pushed = call(
        state,
        steel_core::handlers::push::handle,
        Method::POST,
        "/vault/push",
        Some(&files),
        Some(&dev.token),
    )
    .await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let up = &pushed.body["uploads"][0];
    if !up["upload_url"].is_null() {
        let put = upload(http, up, bytes).await;
        assert!(put.status().is_success(), "PUT {}", put.status());
    }
    let confirmed = call(
        state,
        steel_core::handlers::confirm::handle,
        Method::POST,
        "/vault/push/confirm",
        Some(&files),
        Some(&dev.token),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert!(
        confirmed.body["confirmed"][0]["version"].is_i64(),
        "not confirmed: {:?}",
        confirmed.body
    );
    confirmed
}
