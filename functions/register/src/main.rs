//! `register` Lambda: `POST /devices/register`. Wiring only; the logic is not built yet and answers 501.

use steel_core::handlers;
use steel_core::runtime::{self, AppState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = AppState::from_env(&[]).await?;
    runtime::run_http(&state, handlers::not_implemented("POST /devices/register")).await
}
