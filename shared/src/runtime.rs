//! Cold-start wiring shared by every function's `main`: configuration, the clients built
//! once per sandbox, and the loop that feeds Lambda events to a handler.
//!
//! A function's state type says what it can reach, so wiring a handler to a function that
//! lacks a client does not compile: `push::handle` takes a [`VaultState`], which always holds
//! the bucket; `login::handle` takes a [`LoginState`]. A setting a state needs is checked when
//! the state is built, so a missing one fails the cold start, never a request.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use sqlx::PgPool;

use crate::auth::jwks::JwksPolicy;
use crate::auth::{IdentityVerifier, TokenIssuer};
use crate::budget::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::{self, ApiRequest, ApiResponse};
use crate::queue::Queue;
use crate::storage::Storage;

/// What every function has: its settings, the database pool and our token issuer. Cheap to
/// clone: every field is a handle to shared state.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub tokens: Arc<TokenIssuer>,
    /// Where the request budgets read the time ([`Clock::System`]; tests set their own).
    pub clock: Clock,
}

impl crate::auth::AuthContext for AppState {
    fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    fn db(&self) -> &PgPool {
        &self.db
    }

    fn budgets(&self) -> Option<crate::budget::Budgets> {
        self.config.budgets
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

impl AppState {
    /// Reads the environment (and the secrets it names, see [`crate::secrets`]) and opens a
    /// lazy pool. Fails (and with it the cold start) on any missing or malformed setting.
    pub async fn from_env() -> Result<Self, anyhow::Error> {
        let config = crate::secrets::config_from_env().await?;
        let db = crate::db::connect_lazy(&config.database)?;
        Ok(Self::new(config, db))
    }

    /// The state around an existing pool (tests hand in their fresh database).
    pub fn new(config: Config, db: PgPool) -> Self {
        AppState {
            tokens: Arc::new(TokenIssuer::new(&config.tokens)),
            config: Arc::new(config),
            db,
            clock: Clock::System,
        }
    }

    /// The same state, its request budgets reading `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The AWS SDK's shared settings: credentials, region and endpoint overrides
    /// (`AWS_ENDPOINT_URL_S3`, ...), read once.
    async fn sdk() -> aws_config::SdkConfig {
        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
    }

    fn storage(&self, sdk: &aws_config::SdkConfig) -> Storage {
        let s3_config = self.s3_config(sdk).build();
        Storage::new(
            aws_sdk_s3::Client::from_conf(s3_config),
            &self.config.s3.bucket,
        )
    }

    /// The S3 client's settings every function uses: region, addressing, and a timeout on
    /// each whole call, retries included (see `Config::aws_call_timeout`). Tests add an
    /// endpoint of their own.
    pub fn s3_config(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::config::Builder {
        let s3 = &self.config.s3;
        aws_sdk_s3::config::Builder::from(sdk)
            .region(aws_sdk_s3::config::Region::new(s3.region.clone()))
            .force_path_style(s3.force_path_style)
            .timeout_config(self.aws_timeouts())
    }

    /// SQS's client settings: a timeout on each whole call, as for S3.
    pub fn sqs_config(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::config::Builder {
        aws_sdk_sqs::config::Builder::from(sdk).timeout_config(self.aws_timeouts())
    }

    fn aws_timeouts(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(self.config.aws_call_timeout)
            .build()
    }
}

/// A function that reads the vault or presigns (push, pull): the bucket.
#[derive(Clone)]
pub struct VaultState {
    pub app: AppState,
    pub storage: Storage,
}

impl VaultState {
    pub async fn new(app: AppState) -> Self {
        let sdk = AppState::sdk().await;
        VaultState {
            storage: app.storage(&sdk),
            app,
        }
    }
}

/// A function that commits changes (confirm, delete): the bucket and the queue where
/// committed changes are announced (`SQS_QUEUE_URL`, required).
#[derive(Clone)]
pub struct WriteState {
    pub app: AppState,
    pub storage: Storage,
    pub changes: Queue,
}

impl WriteState {
    pub async fn new(app: AppState) -> Result<Self, anyhow::Error> {
        let url = app.config.require_sqs_queue_url()?.to_owned();
        let sdk = AppState::sdk().await;
        Ok(WriteState {
            storage: app.storage(&sdk),
            changes: Queue::new(
                aws_sdk_sqs::Client::from_conf(app.sqs_config(&sdk).build()),
                url,
            ),
            app,
        })
    }
}

/// `login`: verifies Apple and Google identity tokens against their keys.
#[derive(Clone)]
pub struct LoginState {
    pub app: AppState,
    pub identity: Arc<IdentityVerifier>,
}

impl LoginState {
    pub fn new(app: AppState, jwks_policy: JwksPolicy) -> Result<Self, anyhow::Error> {
        let http = reqwest::Client::builder()
            .user_agent("steel-notes-sync")
            .connect_timeout(std::time::Duration::from_secs(2))
            .build()?;
        Ok(LoginState {
            identity: Arc::new(IdentityVerifier::from_config(
                &app.config,
                http,
                jwks_policy,
            )),
            app,
        })
    }
}

/// `delete-account`: the bucket (to purge) and the purge queue (to finish later).
#[derive(Clone)]
pub struct AccountState {
    pub app: AppState,
    pub storage: Storage,
    pub purges: Queue,
}

impl AccountState {
    /// `PURGE_QUEUE_URL` is required.
    pub async fn new(app: AppState) -> Result<Self, anyhow::Error> {
        let url = app.config.require_purge_queue_url()?.to_owned();
        let sdk = AppState::sdk().await;
        Ok(AccountState {
            storage: app.storage(&sdk),
            purges: Queue::new(
                aws_sdk_sqs::Client::from_conf(app.sqs_config(&sdk).build()),
                url,
            ),
            app,
        })
    }
}

/// `janitor`: the database and the bucket.
#[derive(Clone)]
pub struct JanitorState {
    pub app: AppState,
    pub storage: Storage,
    /// The part of the bucket the sweep lists: all of it (`None`) in production; one
    /// user's prefix in tests that share a bucket.
    pub sweep_prefix: Option<String>,
    /// Keys per bucket listing page ([`crate::config::SWEEP_PAGE`]; smaller in tests).
    pub sweep_page: i32,
    /// Versions per history batch ([`crate::config::HISTORY_BATCH`]; smaller in tests).
    pub history_batch: i64,
}

impl JanitorState {
    pub async fn new(app: AppState) -> Self {
        let sdk = AppState::sdk().await;
        JanitorState {
            storage: app.storage(&sdk),
            app,
            sweep_prefix: None,
            sweep_page: crate::config::SWEEP_PAGE,
            history_batch: crate::config::HISTORY_BATCH,
        }
    }
}

impl AsRef<AppState> for AppState {
    fn as_ref(&self) -> &AppState {
        self
    }
}

macro_rules! app_state_of {
    ($($state:ty),+) => {$(
        impl AsRef<AppState> for $state {
            fn as_ref(&self) -> &AppState {
                &self.app
            }
        }
    )+};
}
app_state_of!(
    VaultState,
    WriteState,
    LoginState,
    AccountState,
    JanitorState
);

/// Turns one API Gateway event into a response through `handler`.
pub async fn handle_event<'a, S, F, Fut>(
    state: &'a S,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
    handler: F,
) -> ApiGatewayV2httpResponse
where
    S: AsRef<AppState>,
    F: FnOnce(&'a S, ApiRequest) -> Fut,
    Fut: Future<Output = Result<ApiResponse, ApiError>>,
{
    let request_id = event
        .payload
        .request_context
        .request_id
        .clone()
        .unwrap_or_else(|| event.context.request_id.clone());
    http::serve(
        event.payload,
        request_id,
        state.as_ref().config.limits.max_body_bytes,
        |request| handler(state, request),
    )
    .await
    .into_event_response()
}

/// Serves API Gateway HTTP API events with `handler` until the sandbox is shut down.
pub async fn run_http<'a, S, F, Fut>(state: &'a S, handler: F) -> Result<(), lambda_runtime::Error>
where
    S: AsRef<AppState>,
    F: Fn(&'a S, ApiRequest) -> Fut + Copy,
    Fut: Future<Output = Result<ApiResponse, ApiError>>,
{
    lambda_runtime::run(service_fn(move |event| async move {
        Ok::<_, lambda_runtime::Error>(handle_event(state, event, handler).await)
    }))
    .await
}
