//! The sample events in `events/`: routed to their function as API Gateway would, and their
//! requests conform to the document (the deliberately bad ones do not).

use std::collections::BTreeMap;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::Value;
use steel_core::http::ApiRequest;

use super::route_of;
use crate::support::openapi;
use crate::support::routes::cargo_router;
use crate::support::services::events_dir;

/// Samples that are wrong on purpose: their body must not conform (or not parse).
const BAD_SAMPLES: [&str; 5] = [
    "malformed-json",
    "wrong-content-type",
    "missing-field",
    "wrong-type",
    "missing-confirm",
];

#[test]
fn every_sample_event_conforms_and_the_bad_ones_do_not() {
    let spec = openapi::spec();
    let routes = cargo_router();
    let (mut good, mut bad) = (0, 0);
    for dir in std::fs::read_dir(events_dir()).expect("events/") {
        let dir = dir.expect("entry").path();
        let function = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        for file in std::fs::read_dir(&dir).expect("dir") {
            let file = file.expect("file").path();
            let name = format!(
                "{function}/{}",
                file.file_name().expect("name").to_string_lossy()
            );
            let raw: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).expect(&name)).expect(&name);
            if raw.pointer("/requestContext/http").is_none() {
                // Not an HTTP event (the notifier's SQS batch, the janitor's schedule).
                assert!(
                    function == "notifier" || function == "janitor",
                    "{name} is not an HTTP event"
                );
                continue;
            }
            let event: ApiGatewayV2httpRequest = serde_json::from_value(raw.clone()).expect(&name);
            let method = event.request_context.http.method.to_string();
            let path = event.raw_path.clone().expect("rawPath");
            // Routed to this function; `routeKey` and `pathParameters` are what API Gateway
            // would send for that route (the template, and the values of its variables).
            let (route, routed_to, values) = route_of(&routes, &method, &path)
                .unwrap_or_else(|| panic!("{name}: {method} {path} is not routed"));
            assert_eq!(
                routed_to, function,
                "{name}: {method} {path} is routed to {routed_to}"
            );
            assert_eq!(
                event.route_key.as_deref(),
                Some(route.as_str()),
                "{name}: routeKey"
            );
            assert_eq!(
                raw["requestContext"]["routeKey"].as_str(),
                Some(route.as_str()),
                "{name}: requestContext.routeKey"
            );
            let parameters: BTreeMap<String, String> =
                event.path_parameters.clone().into_iter().collect();
            assert_eq!(parameters, values, "{name}: pathParameters");
            let query: Vec<(String, String)> = raw["queryStringParameters"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().expect("query value").to_owned()))
                .collect();
            spec.check_query(&method, &path, &query)
                .unwrap_or_else(|e| panic!("{name}: {e}"));

            // The body as the handler sees it: through the real adapter (base64 decoded).
            let content_type = event
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let request =
                ApiRequest::from_event(event, name.clone(), 1 << 20).expect("event decodes");
            let result =
                spec.check_request(&method, &path, content_type.as_deref(), request.body());
            if BAD_SAMPLES.iter().any(|b| name.contains(b)) {
                let why = result.expect_err(&format!("{name} is bad on purpose but conforms"));
                eprintln!("{name} refused as expected: {why}");
                bad += 1;
            } else {
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
                good += 1;
            }
        }
    }
    assert_eq!(bad, BAD_SAMPLES.len(), "every bad sample seen");
    assert!(good >= 17, "only {good} good samples");
}
