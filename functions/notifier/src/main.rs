//! `notifier` Lambda: SQS change notices → APNs silent pushes. Wiring only; the logic is
//! `steel_core::notifier`.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use steel_core::notifier::{self, apns::ApnsClient};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let config = steel_core::Config::from_env()?;
    let apns = Arc::new(ApnsClient::new(config.require_apns()?, Default::default())?);
    let db = steel_core::db::connect_lazy(&config.database)?;
    let (db, apns) = (&db, &apns);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            notifier::handle_batch(db, apns, event.payload).await,
        )
    }))
    .await
}
