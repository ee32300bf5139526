//! `remove-device` Lambda: wiring only; the logic is `steel_core::handlers::remove_device`.

use steel_core::handlers::remove_device;
use steel_core::runtime::{self, AppState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = AppState::from_env().await?;
    runtime::run_http(&state, remove_device::handle).await
}
