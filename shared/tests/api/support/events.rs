//! Events as AWS hands them to the functions: API Gateway v2 requests for a route (or from
//! the samples in `events/`) and SQS batches.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::http::{HeaderValue, Method};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde_json::Value;

use super::routes::Route;
use super::services;

/// An API Gateway v2 event for `route` as the router would send it: the route key, the
/// concrete path with its `values`, and a JSON body and bearer token when given.
pub fn event(
    route: Route,
    values: &[(&str, &str)],
    bearer: Option<&str>,
    body: Option<&Value>,
) -> ApiGatewayV2httpRequest {
    let mut e = ApiGatewayV2httpRequest::default();
    let mut path = route.template().to_owned();
    for (name, value) in values {
        path = path.replace(&format!("{{{name}}}"), value);
        e.path_parameters.insert((*name).into(), (*value).into());
    }
    e.raw_path = Some(path.clone());
    e.route_key = Some(route.key());
    e.request_context.http.method = route.method().parse::<Method>().expect("method");
    e.request_context.http.path = Some(path);
    e.request_context.request_id = Some(format!("test-{}", uuid::Uuid::new_v4()));
    if let Some(b) = body {
        e.body = Some(b.to_string());
        e.headers
            .insert("content-type", HeaderValue::from_static("application/json"));
    }
    if let Some(t) = bearer {
        e.headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).expect("header"),
        );
    }
    e
}

/// A sample event from `events/`, as stored.
pub fn sample_event(name: &str) -> ApiGatewayV2httpRequest {
    let text = std::fs::read_to_string(services::events_dir().join(name)).expect(name);
    serde_json::from_str(&text).expect(name)
}

/// One SQS record as Lambda hands it to a consumer.
pub fn sqs_message(id: &str, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.into());
    m.body = Some(body.into());
    m
}

/// An SQS event of `records`.
pub fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = records;
    e
}
