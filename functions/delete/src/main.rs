//! `delete` Lambda: wiring only; the logic is `steel_core::handlers::delete`.

use steel_core::handlers::delete;
use steel_core::runtime::{self, AppState, Client};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = AppState::from_env(&[Client::S3, Client::Sqs]).await?;
    runtime::run_http(&state, delete::handle).await
}
