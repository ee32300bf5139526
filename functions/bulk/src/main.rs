//! `bulk` Lambda: wiring only; the logic is `steel_core::handlers::bulk`.

use steel_core::handlers::bulk;
use steel_core::runtime::{self, AppState, WriteState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = WriteState::new(AppState::from_env().await?).await?;
    runtime::run_http(&state, bulk::handle).await
}
