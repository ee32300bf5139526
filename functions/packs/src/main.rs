//! `packs` Lambda: wiring only; the logic is `steel_core::handlers::packs`.

use steel_core::handlers::packs;
use steel_core::runtime::{self, AppState, VaultState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = VaultState::new(AppState::from_env().await?).await;
    runtime::run_http(&state, packs::handle).await
}
