//! `janitor` Lambda: the hourly EventBridge schedule's storage lifecycle run. Wiring only;
//! the logic is `steel_core::janitor`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use steel_core::janitor;
use steel_core::runtime::{AppState, JanitorState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = JanitorState::new(AppState::from_env().await?).await;
    let state = &state;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = janitor::run(state, chrono::Utc::now(), janitor::RUN_BUDGET).await?;
        Ok::<Value, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
}
