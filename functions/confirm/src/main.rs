//! `confirm` Lambda: `POST /vault/push/confirm`. Wiring only; the logic is not built yet and answers 501.

use steel_core::handlers;
use steel_core::runtime::{self, AppState, Client};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = AppState::from_env(&[Client::S3, Client::Sqs]).await?;
    runtime::run_http(
        &state,
        handlers::not_implemented("POST /vault/push/confirm"),
    )
    .await
}
