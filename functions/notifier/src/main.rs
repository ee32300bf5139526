//! `notifier` Lambda: SQS trigger that will fan out APNs pushes. Not built yet: it hands every
//! message back to SQS as failed (partial batch response) so no change notice is lost.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    steel_core::Config::from_env()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            steel_core::handlers::notifier_not_implemented(&event.payload),
        )
    }))
    .await
}
