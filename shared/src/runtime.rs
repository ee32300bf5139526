//! Cold-start wiring shared by every function's `main`: configuration, the clients built
//! once per sandbox, and the loop that feeds Lambda events to a handler.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use sqlx::PgPool;

use crate::auth::jwks::JwksPolicy;
use crate::auth::{IdentityVerifier, TokenIssuer};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::{self, ApiRequest, ApiResponse};

/// What a handler can use. Cheap to clone: every field is a handle to shared state.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub tokens: Arc<TokenIssuer>,
    pub identity: Option<Arc<IdentityVerifier>>,
    pub s3: Option<aws_sdk_s3::Client>,
    pub sqs: Option<aws_sdk_sqs::Client>,
}

/// Clients a function needs besides the database and our token issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// Identity-provider verification (JWKS over HTTPS): login.
    Identity,
    S3,
    Sqs,
}

impl AppState {
    /// Reads the environment and builds the clients `needs` asks for. Fails (and with it
    /// the cold start) on any missing or malformed setting.
    pub async fn from_env(needs: &[Client]) -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        Ok(Self::new(config, needs).await?)
    }

    pub async fn new(config: Config, needs: &[Client]) -> Result<Self, anyhow::Error> {
        Self::with_jwks_policy(config, needs, JwksPolicy::default()).await
    }

    /// As [`AppState::new`], with a JWKS cache policy (tests shorten its intervals).
    pub async fn with_jwks_policy(
        config: Config,
        needs: &[Client],
        jwks_policy: JwksPolicy,
    ) -> Result<Self, anyhow::Error> {
        let db = crate::db::connect_lazy(&config.database)?;
        Self::assemble(config, db, needs, jwks_policy).await
    }

    /// Builds the state around an existing pool (tests hand in their fresh database).
    pub async fn assemble(
        config: Config,
        db: PgPool,
        needs: &[Client],
        jwks_policy: JwksPolicy,
    ) -> Result<Self, anyhow::Error> {
        let identity = if needs.contains(&Client::Identity) {
            let http = reqwest::Client::builder()
                .user_agent("steel-notes-sync")
                .connect_timeout(std::time::Duration::from_secs(2))
                .build()?;
            Some(Arc::new(IdentityVerifier::from_config(
                &config,
                http,
                jwks_policy,
            )))
        } else {
            None
        };
        let mut state = AppState {
            tokens: Arc::new(TokenIssuer::new(&config.tokens)),
            config: Arc::new(config),
            db,
            identity,
            s3: None,
            sqs: None,
        };
        if !needs.contains(&Client::S3) && !needs.contains(&Client::Sqs) {
            return Ok(state);
        }
        // Reads credentials, region and endpoint overrides (AWS_ENDPOINT_URL_S3, ...) once.
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if needs.contains(&Client::S3) {
            let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
                .region(aws_sdk_s3::config::Region::new(
                    state.config.s3.region.clone(),
                ))
                .force_path_style(state.config.s3.force_path_style)
                .build();
            state.s3 = Some(aws_sdk_s3::Client::from_conf(s3_config));
        }
        if needs.contains(&Client::Sqs) {
            state.sqs = Some(aws_sdk_sqs::Client::new(&sdk));
        }
        Ok(state)
    }

    /// The vault bucket; an internal error if the function was wired without S3.
    pub fn storage(&self) -> Result<crate::storage::Storage, ApiError> {
        let client = self
            .s3
            .clone()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("S3 client not configured")))?;
        Ok(crate::storage::Storage::new(client, &self.config.s3.bucket))
    }

    pub fn identity(&self) -> Result<&IdentityVerifier, ApiError> {
        self.identity
            .as_deref()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("identity verifier not configured")))
    }

    pub fn sqs(&self) -> Result<&aws_sdk_sqs::Client, ApiError> {
        self.sqs
            .as_ref()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("SQS client not configured")))
    }
}

/// Turns one API Gateway event into a response through `handler`.
pub async fn handle_event<'a, F, Fut>(
    state: &'a AppState,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
    handler: F,
) -> ApiGatewayV2httpResponse
where
    F: FnOnce(&'a AppState, ApiRequest) -> Fut,
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
        state.config.limits.max_body_bytes,
        |request| handler(state, request),
    )
    .await
    .into_event_response()
}

/// Serves API Gateway HTTP API events with `handler` until the sandbox is shut down.
pub async fn run_http<'a, F, Fut>(
    state: &'a AppState,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'a AppState, ApiRequest) -> Fut + Copy,
    Fut: Future<Output = Result<ApiResponse, ApiError>>,
{
    lambda_runtime::run(service_fn(move |event| async move {
        Ok::<_, lambda_runtime::Error>(handle_event(state, event, handler).await)
    }))
    .await
}
