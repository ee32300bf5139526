//! `notifier` Lambda: SQS change notices → APNs and FCM silent pushes. Wiring only; the
//! logic is `steel_core::notifier`.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use steel_core::notifier::{self, Pushers};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    let config = steel_core::secrets::config_from_env().await?;
    let pushers = Pushers::from_config(&config)?;
    let db = steel_core::db::connect_lazy(&config.database)?;
    let (db, pushers) = (&db, &pushers);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            notifier::handle_batch(db, pushers, event.payload).await,
        )
    }))
    .await
}
