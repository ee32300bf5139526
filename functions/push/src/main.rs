//! `push` Lambda: wiring only; the logic is `steel_core::handlers::push`.

use steel_core::handlers::push;
use steel_core::runtime::{self, AppState, Client};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = AppState::from_env(&[Client::S3]).await?;
    runtime::run_http(&state, push::handle).await
}
