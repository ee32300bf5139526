//! `login` Lambda: wiring only; the logic is `steel_core::handlers::login`.

use steel_core::handlers::login;
use steel_core::runtime::{self, AppState, LoginState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = LoginState::new(AppState::from_env().await?, Default::default())?;
    runtime::run_http(&state, login::handle).await
}
