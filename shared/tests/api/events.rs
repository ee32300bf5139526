//! The sample events in `events/` (the ones `cargo lambda invoke --data-file` and
//! `sam local invoke -e` take) decode through the HTTP adapter as the functions see them.

use aws_lambda_events::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;
use steel_core::http::{self, ApiRequest, ApiResponse};

use crate::support::events::sample_event;
use crate::support::services::events_dir;

/// Runs `event` through the adapter with a handler that parses the body as `T` (or not at
/// all for GET) and echoes it back.
async fn echo<T>(name: &str) -> ApiResponse
where
    T: for<'de> Deserialize<'de> + serde::Serialize,
{
    http::serve(
        sample_event(name),
        name.into(),
        1 << 20,
        |req: ApiRequest| async move {
            if req.method == "GET" || req.body().is_empty() {
                return ApiResponse::ok(&serde_json::json!({"query": req.query_param("cursor")}));
            }
            let body: T = req.json()?;
            ApiResponse::ok(&body)
        },
    )
    .await
}

/// The body of an adapter response, parsed.
fn json_body(response: &ApiResponse) -> Value {
    serde_json::from_str(&response.body).expect("JSON body")
}

#[derive(Deserialize, serde::Serialize)]
struct Login {
    provider: String,
    identity_token: String,
}

#[derive(Deserialize, serde::Serialize)]
struct Register {
    device_name: String,
    platform: String,
}

#[tokio::test]
async fn every_http_event_decodes() {
    let mut seen = 0;
    for dir in std::fs::read_dir(events_dir()).expect("events/") {
        let dir = dir.expect("entry").path();
        // Not HTTP: the notifier's SQS batch, the janitor's schedule.
        if dir
            .file_name()
            .is_some_and(|n| n == "notifier" || n == "janitor")
        {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("dir") {
            let file = file.expect("file").path();
            let name = format!(
                "{}/{}",
                dir.file_name().expect("name").to_string_lossy(),
                file.file_name().expect("name").to_string_lossy()
            );
            let event = sample_event(&name);
            // The sample's route must be the function's route, as the router sends it: the
            // route key's template with the path parameters filled in is the raw path.
            let route = event.route_key.clone().expect("routeKey");
            let mut filled = route.clone();
            for (k, v) in &event.path_parameters {
                filled = filled.replace(&format!("{{{k}}}"), v);
            }
            assert_eq!(
                filled,
                format!(
                    "{} {}",
                    event.request_context.http.method,
                    event.raw_path.clone().expect("rawPath")
                ),
                "{name}"
            );
            let response = echo::<serde_json::Value>(&name).await;
            let bad = ["malformed-json", "wrong-content-type"]
                .iter()
                .any(|b| name.contains(b));
            assert_eq!(response.status == 200, !bad, "{name}: {}", response.body);
            seen += 1;
        }
    }
    assert!(seen >= 16, "only {seen} events");
}

#[tokio::test]
async fn invalid_samples_get_the_right_400() {
    let cases = [
        ("login/malformed-json.json", "malformed_json"),
        ("refresh/wrong-content-type.json", "invalid_content_type"),
    ];
    for (name, code) in cases {
        let response = echo::<serde_json::Value>(name).await;
        assert_eq!(response.status, 400, "{name}");
        assert_eq!(json_body(&response)["error"]["code"], code, "{name}");
    }
    let response = echo::<Login>("login/missing-field.json").await;
    assert_eq!(json_body(&response)["error"]["code"], "missing_field");
    assert!(response.body.contains("identity_token"));
    let response = echo::<Register>("register/wrong-type.json").await;
    assert_eq!(json_body(&response)["error"]["code"], "invalid_type");
    assert!(response.body.contains("device_name"));
    let response = echo::<Login>("login/apple.json").await;
    assert_eq!(json_body(&response)["provider"], "apple");
}

#[tokio::test]
async fn base64_and_query_events_decode() {
    let plain = echo::<serde_json::Value>("push/valid.json").await;
    let encoded = echo::<serde_json::Value>("push/base64-body.json").await;
    assert_eq!(plain.status, 200);
    assert_eq!(encoded.status, 200);
    assert_eq!(json_body(&encoded)["files"][0]["path"], "questions/Why.md");
    let state = echo::<serde_json::Value>("state/from-cursor.json").await;
    assert_eq!(json_body(&state)["query"], "c42");
}

#[test]
fn notifier_sample_is_an_sqs_batch() {
    let text = std::fs::read_to_string(events_dir().join("notifier/batch.json")).expect("batch");
    let event: SqsEvent = serde_json::from_str(&text).expect("sqs event");
    assert_eq!(event.records.len(), 3);
}
