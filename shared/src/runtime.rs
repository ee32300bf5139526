//! Cold-start wiring shared by every function's `main`: configuration, the clients built
//! once per sandbox, and the loop that feeds Lambda events to a handler.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use sqlx::PgPool;

use crate::config::Config;
use crate::error::ApiError;
use crate::http::{self, ApiRequest, ApiResponse};

/// What a handler can use. Cheap to clone: every field is a handle to shared state.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub s3: Option<aws_sdk_s3::Client>,
    pub sqs: Option<aws_sdk_sqs::Client>,
}

/// AWS clients a function needs besides the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsClient {
    S3,
    Sqs,
}

impl AppState {
    /// Reads the environment and builds the clients `needs` asks for. Fails (and with it
    /// the cold start) on any missing or malformed setting.
    pub async fn from_env(needs: &[AwsClient]) -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        Ok(Self::new(config, needs).await?)
    }

    pub async fn new(config: Config, needs: &[AwsClient]) -> Result<Self, anyhow::Error> {
        let db = crate::db::connect_lazy(&config.database)?;
        let mut state = AppState {
            config: Arc::new(config),
            db,
            s3: None,
            sqs: None,
        };
        if needs.is_empty() {
            return Ok(state);
        }
        // Reads credentials, region and endpoint overrides (AWS_ENDPOINT_URL_S3, ...) once.
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        if needs.contains(&AwsClient::S3) {
            let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
                .region(aws_sdk_s3::config::Region::new(
                    state.config.s3.region.clone(),
                ))
                .force_path_style(state.config.s3.force_path_style)
                .build();
            state.s3 = Some(aws_sdk_s3::Client::from_conf(s3_config));
        }
        if needs.contains(&AwsClient::Sqs) {
            state.config.require_sqs_queue_url()?;
            state.sqs = Some(aws_sdk_sqs::Client::new(&sdk));
        }
        Ok(state)
    }

    /// The S3 client; an internal error if the function was wired without it.
    pub fn s3(&self) -> Result<&aws_sdk_s3::Client, ApiError> {
        self.s3
            .as_ref()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("S3 client not configured")))
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
