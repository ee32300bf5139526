//! Endpoint handlers, one module per function. Each takes the shared state and a decoded
//! request and answers a response or an [`ApiError`](crate::ApiError).

pub mod confirm;
pub mod delete;
pub mod login;
pub mod pull;
pub mod push;
pub mod refresh;
pub mod register;
pub mod session;
pub mod state;
pub mod vault;

/// The notifier's answer while its logic is not built: every message is reported as failed,
/// so SQS keeps it (and finally moves it to the dead-letter queue) instead of dropping it.
pub fn notifier_not_implemented(
    event: &aws_lambda_events::sqs::SqsEvent,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    let mut response = aws_lambda_events::sqs::SqsBatchResponse::default();
    for record in &event.records {
        let mut failure = aws_lambda_events::sqs::BatchItemFailure::default();
        failure.item_identifier = record.message_id.clone().unwrap_or_default();
        response.batch_item_failures.push(failure);
    }
    tracing::warn!(
        messages = event.records.len(),
        "notifier is not implemented yet: reporting the batch as failed"
    );
    response
}
