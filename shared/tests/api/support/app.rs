//! The application under test: the state of every function built once per test around the
//! test's fresh database, the local services and an identity-provider stand-in, with one
//! method per route. A request goes through the route table (`routes.rs`) into the real
//! HTTP adapter and handler, as the Lambda runtime would run it, and every answer is checked
//! against `openapi.yaml` before a test sees it.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::auth::jwks::JwksPolicy;
use steel_core::budget::Clock;
use steel_core::domain::{ContentHash, Platform, Provider, PushEnvironment, UserId};
use steel_core::runtime::{AccountState, AppState, LoginState, VaultState, WriteState};
use steel_core::storage::Storage;

use super::client::{Anonymous, Answer, Credentials, SignedIn, TestDevice, signed_in};
use super::events::{event, sqs_event, sqs_message};
use super::idp::{APPLE_AUDIENCE, GOOGLE_AUDIENCE, Idp, apple_claims, id_token};
use super::openapi;
use super::routes::Route;
use super::services;

/// The settings a test app starts from; tests override them before `spawn`.
pub struct Builder {
    pool: PgPool,
    settings: HashMap<String, String>,
    through: Option<Through>,
    clock: Clock,
}

/// Where the functions reach Postgres, S3 and SQS when that is not where the test does:
/// the fault suite puts its proxies there.
pub struct Through {
    /// The functions' pool (the test's own stays `TestApp::db`).
    pub pool: PgPool,
    pub s3_endpoint: String,
    pub sqs_endpoint: String,
}

impl Builder {
    /// Overrides one setting of the environment the functions read: an empty value unsets
    /// it, and `{idp}` in a value stands for the base URL of the identity providers' stand-in.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.insert(name.into(), value.into());
        self
    }

    /// The functions' request budgets read `clock` (a manual one travels in time).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The functions reach the services through `through` instead of directly.
    pub fn through(mut self, through: Through) -> Self {
        self.through = Some(through);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let Builder {
            pool,
            settings,
            through,
            clock,
        } = self;
        let idp = Idp::start().await;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let notices = services::new_queue(&sqs, "test").await;
        let purges = services::new_queue(&sqs, "test-purge").await;
        let mut all: HashMap<String, String> = [
            (
                "APPLE_CLIENT_ID",
                format!("{APPLE_AUDIENCE},com.steelnotes.web"),
            ),
            ("GOOGLE_CLIENT_IDS", GOOGLE_AUDIENCE.into()),
            ("APPLE_JWKS_URL", idp.apple_url()),
            ("GOOGLE_JWKS_URL", idp.google_url()),
            ("SQS_QUEUE_URL", notices.clone()),
            ("PURGE_QUEUE_URL", purges.clone()),
            ("VAULT_QUOTA_BYTES", "1000000".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let base = idp.server.uri();
        all.extend(
            settings
                .into_iter()
                .map(|(k, v)| (k, v.replace("{idp}", &base))),
        );
        let policy = JwksPolicy {
            fetch_timeout: Duration::from_secs(5),
            ..JwksPolicy::default()
        };
        let config = services::config(&all);
        let s3 = services::s3_client(&sdk, &config);
        let bucket = config.s3.bucket.clone();
        let functions = match through {
            None => {
                let app = AppState::new(config, pool.clone()).with_clock(clock);
                States {
                    vault: VaultState::new(app.clone()).await,
                    write: WriteState::new(app.clone()).await.expect("write state"),
                    login: LoginState::new(app.clone(), policy).expect("login state"),
                    account: AccountState::new(app.clone()).await.expect("account state"),
                    app,
                }
            }
            Some(through) => {
                States::through(config, &sdk, through, policy, [&notices, &purges], clock)
            }
        };
        TestApp {
            db: pool,
            state: functions.app.clone(),
            functions,
            idp,
            sqs,
            notices,
            s3,
            bucket,
            http: reqwest::Client::new(),
        }
    }
}

/// The state each function builds at cold start, all around the same database and settings.
/// The route table (`routes.rs`) hands each handler the one its function builds.
pub struct States {
    /// What every function has (settings, database, token issuer): account, logout,
    /// refresh, register, remove-device, state.
    pub app: AppState,
    /// push, pull: the bucket.
    pub vault: VaultState,
    /// confirm, delete: the bucket and the change queue.
    pub write: WriteState,
    /// login: the identity verifier.
    pub login: LoginState,
    /// delete-account: the bucket and the purge queue.
    pub account: AccountState,
}

impl States {
    /// Every function's state as its cold start builds it, but reaching the services
    /// through `through`.
    fn through(
        config: steel_core::Config,
        sdk: &aws_config::SdkConfig,
        through: Through,
        policy: JwksPolicy,
        [notices, purges]: [&String; 2],
        clock: Clock,
    ) -> States {
        let app = AppState::new(config, through.pool).with_clock(clock);
        let s3 = aws_sdk_s3::Client::from_conf(
            app.s3_config(sdk)
                .endpoint_url(&through.s3_endpoint)
                .build(),
        );
        let storage = Storage::new(s3, &app.config.s3.bucket);
        let sqs = aws_sdk_sqs::Client::from_conf(
            app.sqs_config(sdk)
                .endpoint_url(&through.sqs_endpoint)
                .build(),
        );
        States {
            vault: VaultState {
                app: app.clone(),
                storage: storage.clone(),
            },
            write: WriteState {
                app: app.clone(),
                storage: storage.clone(),
                changes: steel_core::queue::Queue::new(sqs.clone(), notices),
            },
            login: LoginState::new(app.clone(), policy).expect("login state"),
            account: AccountState {
                app: app.clone(),
                storage,
                purges: steel_core::queue::Queue::new(sqs, purges),
            },
            app,
        }
    }
}

pub struct TestApp {
    /// The test's own database.
    pub db: PgPool,
    /// What every function has: settings, database, token issuer.
    pub state: AppState,
    /// Each function's own state.
    pub functions: States,
    /// The JWKS server the identity verifier fetches keys from.
    pub idp: Idp,
    sqs: aws_sdk_sqs::Client,
    /// The queue `confirm` and `delete` announce changes on.
    notices: String,
    /// The vault bucket, read directly (the tests' view of what S3 holds).
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// For presigned URLs, as a device uses them.
    pub http: reqwest::Client,
}

impl TestApp {
    /// Identity (Apple and Google, keys from the stand-in), S3 (s3s-fs), queues of the
    /// test's own on moto, a quota of 1,000,000 bytes.
    pub async fn spawn(pool: PgPool) -> TestApp {
        Self::builder(pool).spawn().await
    }

    pub fn builder(pool: PgPool) -> Builder {
        Builder {
            pool,
            settings: HashMap::new(),
            through: None,
            clock: Clock::System,
        }
    }

    /// Sends `event` to the function its method and path are routed to, through the real
    /// adapter, and checks the answer against `openapi.yaml`.
    pub async fn send(&self, event: ApiGatewayV2httpRequest) -> Answer {
        let method = event.request_context.http.method.to_string();
        let path = event.raw_path.clone().unwrap_or_default();
        let (route, _) =
            Route::of(&method, &path).unwrap_or_else(|| panic!("{method} {path} is not routed"));
        let response = route.serve(&self.functions, event).await;
        let body = match response.body {
            Some(Body::Text(t)) => serde_json::from_str(&t).expect("JSON body"),
            other => panic!("unexpected body {other:?}"),
        };
        openapi::validate_response(
            &method,
            &path,
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
            retry_after: response
                .headers
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or("").to_owned()),
            etag: response
                .headers
                .get("etag")
                .map(|v| v.to_str().unwrap_or("").to_owned()),
        }
    }

    /// `route` with its path variables filled in from `values`, as API Gateway hands it over.
    async fn call(
        &self,
        route: Route,
        values: &[(&str, &str)],
        who: &(impl Credentials + ?Sized),
        body: Option<Value>,
    ) -> Answer {
        self.send(event(route, values, who.bearer(), body.as_ref()))
            .await
    }

    /// `POST /auth/login`.
    pub async fn login(&self, body: Value) -> Answer {
        self.call(Route::Login, &[], &Anonymous, Some(body)).await
    }

    /// `POST /auth/login` as an iOS device `device_name` of the Apple user `sub` (with a
    /// push token), asserting it succeeds.
    pub async fn sign_in(&self, sub: &str, device_name: &str) -> SignedIn {
        let answer = self
            .login(
                json!({"provider": "apple", "identity_token": id_token(&apple_claims(sub)),
                          "device": {"device_name": device_name, "platform": "ios",
                                     "push_token": format!("tok-{device_name}")}}),
            )
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        signed_in(answer.body)
    }

    /// `POST /auth/refresh` with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        let body = json!({"refresh_token": refresh_token});
        self.call(Route::Refresh, &[], &Anonymous, Some(body)).await
    }

    /// `POST /auth/logout`, with a body or without.
    pub async fn logout(&self, who: &(impl Credentials + ?Sized), body: Option<Value>) -> Answer {
        self.call(Route::Logout, &[], who, body).await
    }

    /// `POST /devices/register`.
    pub async fn register(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Register, &[], who, Some(body)).await
    }

    /// `DELETE /devices/{device_id}`.
    pub async fn remove_device(
        &self,
        who: &(impl Credentials + ?Sized),
        device_id: &str,
    ) -> Answer {
        self.call(Route::RemoveDevice, &[("device_id", device_id)], who, None)
            .await
    }

    /// `GET /vault/state` with `query` as its query string.
    pub async fn state(&self, who: &(impl Credentials + ?Sized), query: &[(&str, &str)]) -> Answer {
        self.get(Route::State, who, query).await
    }

    /// `GET /vault/history` with `query` as its query string.
    pub async fn history(
        &self,
        who: &(impl Credentials + ?Sized),
        query: &[(&str, &str)],
    ) -> Answer {
        self.get(Route::History, who, query).await
    }

    /// `GET /vault/deleted` with `query` as its query string.
    pub async fn deleted(
        &self,
        who: &(impl Credentials + ?Sized),
        query: &[(&str, &str)],
    ) -> Answer {
        self.get(Route::Deleted, who, query).await
    }

    /// `POST /vault/restore`.
    pub async fn restore(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Restore, &[], who, Some(body)).await
    }

    /// `GET /vault/keys`.
    pub async fn keys(&self, who: &(impl Credentials + ?Sized)) -> Answer {
        self.call(Route::Keys, &[], who, None).await
    }

    /// `PUT /vault/keys`, with `If-Match: if_match` when given.
    pub async fn put_keys(
        &self,
        who: &(impl Credentials + ?Sized),
        if_match: Option<&str>,
        body: Value,
    ) -> Answer {
        let mut e = event(Route::PutKeys, &[], who.bearer(), Some(&body));
        if let Some(tag) = if_match {
            e.headers.insert(
                "if-match",
                aws_lambda_events::http::HeaderValue::from_str(tag).expect("header"),
            );
        }
        self.send(e).await
    }

    /// A GET route with `query` as its query string.
    async fn get(
        &self,
        route: Route,
        who: &(impl Credentials + ?Sized),
        query: &[(&str, &str)],
    ) -> Answer {
        let mut e = event(route, &[], who.bearer(), None);
        let query: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.query_string_parameters = query.into();
        self.send(e).await
    }

    /// `POST /vault/push`.
    pub async fn push(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Push, &[], who, Some(body)).await
    }

    /// `POST /vault/push` with `query` as its query string (`presign=false`).
    pub async fn push_query(
        &self,
        who: &(impl Credentials + ?Sized),
        query: &[(&str, &str)],
        body: Value,
    ) -> Answer {
        let mut e = event(Route::Push, &[], who.bearer(), Some(&body));
        e.query_string_parameters = (query.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<String, String>>()
            .into();
        self.send(e).await
    }

    /// `POST /vault/push/confirm`.
    pub async fn confirm(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Confirm, &[], who, Some(body)).await
    }

    /// `POST /vault/pull`.
    pub async fn pull(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Pull, &[], who, Some(body)).await
    }

    /// `POST /vault/bulk`.
    pub async fn bulk(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Bulk, &[], who, Some(body)).await
    }

    /// `POST /vault/bulk/confirm`.
    pub async fn bulk_confirm(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::BulkConfirm, &[], who, Some(body)).await
    }

    /// `POST /vault/packs`.
    pub async fn packs(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Packs, &[], who, Some(body)).await
    }

    /// `POST /vault/delete`.
    pub async fn delete(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::Delete, &[], who, Some(body)).await
    }

    /// `GET /account`.
    pub async fn account(&self, who: &(impl Credentials + ?Sized)) -> Answer {
        self.call(Route::Account, &[], who, None).await
    }

    /// `DELETE /account`.
    pub async fn delete_account(&self, who: &(impl Credentials + ?Sized), body: Value) -> Answer {
        self.call(Route::DeleteAccount, &[], who, Some(body)).await
    }

    /// A new Apple user `sub` with one Mac, made in the database, and an access token bound
    /// to that device.
    pub async fn new_user_device(&self, sub: &str) -> TestDevice {
        let user = steel_core::db::users::find_or_create_user(&self.db, Provider::Apple, sub, None)
            .await
            .expect("user");
        self.another_device(user.id, "Mac").await
    }

    /// Another Mac of `user_id`, made in the database, with a bound access token.
    pub async fn another_device(&self, user_id: UserId, name: &str) -> TestDevice {
        let device_id = super::seed::device(
            &self.db,
            user_id,
            name,
            Platform::Macos,
            None,
            PushEnvironment::Production,
        )
        .await;
        TestDevice {
            user_id,
            device_id,
            token: self
                .state
                .tokens
                .issue_access(user_id, Some(device_id))
                .expect("token"),
        }
    }

    /// PUTs `bytes` to an upload entry of a push answer, with the headers it prescribes.
    pub async fn upload(&self, entry: &Value, bytes: &[u8]) -> reqwest::Response {
        let url = entry["upload_url"].as_str().expect("upload_url");
        let mut req = self.http.put(url).body(bytes.to_vec());
        for (k, v) in entry["headers"].as_object().expect("headers") {
            // reqwest sets these two itself (the length from the body).
            if k == "host" || k == "content-length" {
                continue;
            }
            req = req.header(k.as_str(), v.as_str().expect("header value"));
        }
        req.send().await.expect("PUT")
    }

    /// GETs a presigned download URL, asserting success; the bytes.
    pub async fn download(&self, url: &Value) -> Vec<u8> {
        let got = self
            .http
            .get(url.as_str().expect("download URL"))
            .send()
            .await
            .expect("GET");
        assert!(got.status().is_success(), "GET {}", got.status());
        got.bytes().await.expect("bytes").to_vec()
    }

    /// push → PUT (when the server asks for the bytes) → confirm one file, asserting each
    /// step succeeds; returns the confirm answer.
    pub async fn sync_file(&self, dev: &TestDevice, path: &str, base: i64, bytes: &[u8]) -> Answer {
        let files = json!({"files": [{"path": path, "base_version": base,
            "content_hash": ContentHash::of(bytes).to_hex(), "size_bytes": bytes.len()}]});
        let pushed = self.push(dev, files.clone()).await;
        assert_eq!(pushed.status, 200, "{:?}", pushed.body);
        let up = &pushed.body["uploads"][0];
        if !up["upload_url"].is_null() {
            let put = self.upload(up, bytes).await;
            assert!(put.status().is_success(), "PUT {}", put.status());
        }
        let confirmed = self.confirm(dev, files).await;
        assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
        assert!(
            confirmed.body["confirmed"][0]["version"].is_i64(),
            "not confirmed: {:?}",
            confirmed.body
        );
        confirmed
    }

    /// As [`TestApp::sync_file`]; the new version.
    pub async fn sync_up(&self, dev: &TestDevice, path: &str, base: i64, bytes: &[u8]) -> i64 {
        self.sync_file(dev, path, base, bytes).await.body["confirmed"][0]["version"]
            .as_i64()
            .expect("version")
    }

    /// The vault bucket.
    pub fn storage(&self) -> &Storage {
        &self.functions.vault.storage
    }

    /// Every key the bucket holds under the user's prefix.
    pub async fn user_keys(&self, user_id: UserId) -> Vec<String> {
        services::user_keys(&self.s3, &self.bucket, user_id).await
    }

    /// Receives and deletes every change notice queued so far; their bodies.
    pub async fn drain_notices(&self) -> Vec<Value> {
        services::drain_queue(&self.sqs, &self.notices).await
    }

    /// The change notices queued so far, as the notifier's SQS event would carry them.
    pub async fn notice_records(&self) -> Vec<SqsMessage> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.notices)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        received
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                sqs_message(
                    m.message_id().unwrap_or_default(),
                    m.body().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The purge consumer of `delete-account` on an SQS batch of `records`.
    pub async fn deliver_purges(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        steel_core::purge::handle_batch(&self.functions.account, sqs_event(records)).await
    }
}
