//! `delete-account` Lambda: `DELETE /account` from API Gateway, and the purge queue's
//! retries (SQS) that finish deleting the account's objects. Wiring only; the logic is
//! `steel_core::handlers::delete_account` and `steel_core::purge`.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use steel_core::handlers::delete_account;
use steel_core::purge;
use steel_core::runtime::{self, AccountState, AppState};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let state = AccountState::new(AppState::from_env().await?).await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let (payload, context) = event.into_parts();
        // Two triggers share this function: SQS batches carry "Records".
        let out = if payload.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(payload)?;
            serde_json::to_value(purge::handle_batch(state, batch).await)?
        } else {
            let request: ApiGatewayV2httpRequest = serde_json::from_value(payload)?;
            let event = LambdaEvent::new(request, context);
            serde_json::to_value(runtime::handle_event(state, event, delete_account::handle).await)?
        };
        Ok::<Value, lambda_runtime::Error>(out)
    }))
    .await
}
