//! `keys` Lambda: wiring only; the logic is `steel_core::handlers::keys`.

use steel_core::handlers::keys;
use steel_core::runtime::{self, AppState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = AppState::from_env().await?;
    runtime::run_http(&state, keys::handle).await
}
