//! The reference client against the server's per-account request budgets (README "Fair
//! use"): with the account's reads and writes spent, a sync still completes, waiting out each
//! 429 `rate_limited` for its `Retry-After`, and its report says it was rate limited. Runs
//! with the stack's default budgets: the test spends them itself.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Device, api_url, unique_user};

/// Sends `method path` (with `body`) as `token` until the server answers 429
/// `rate_limited`, at most `max` times; how many were granted first.
async fn spend(token: &str, method: Method, path: &str, body: Option<Value>, max: usize) -> usize {
    let http = reqwest::Client::new();
    for granted in 0..max {
        let mut request = http
            .request(method.clone(), format!("{}{path}", api_url()))
            .bearer_auth(token);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let answer = request.send().await.expect("request");
        let status = answer.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(answer.headers().contains_key("retry-after"));
            let body: Value = answer.json().await.expect("JSON error body");
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
            return granted;
        }
        assert!(status.is_success(), "{method} {path}: {status}");
    }
    panic!("{method} {path}: no 429 after {max} requests");
}

#[tokio::test]
async fn a_sync_completes_through_rate_limits() {
    let sub = unique_user("rate-limited");
    let mut mac = Device::new(&sub, "Mac").await;
    mac.write(
        "thoughts/limited.md",
        "written while the account was over its budgets",
    );
    let token = mac.syncer.api().session().await.access_token;
    // Spend the account's reads and writes (default sizes 600 and 300).
    let reads = spend(&token, Method::GET, "/vault/state?limit=1", None, 5_000).await;
    assert!(reads >= 1, "reads granted: {reads}");
    let register = json!({"device_name": "Mac", "platform": "macos"});
    let writes = spend(
        &token,
        Method::POST,
        "/devices/register",
        Some(register),
        5_000,
    )
    .await;
    assert!(writes >= 1, "writes granted: {writes}");

    let report = mac.sync().await;
    assert_eq!(report.pushed, vec!["thoughts/limited.md".to_owned()]);
    // Its first request (`state`) was refused and sent again after `Retry-After` (1 s: a
    // read comes back every 0.1 s); by then two writes had come back, enough for the push
    // and the confirm, or they were refused and waited out too.
    assert!(
        report.rate_limited >= 1,
        "rate limited {} times",
        report.rate_limited
    );
    assert!(report.rate_limited_wait >= std::time::Duration::from_secs(1));
    let said = report.rate_limited_message().expect("the report says so");
    assert!(said.starts_with("rate limited: "), "{said}");
    // A second device sees the note: the sync really committed it.
    let mut phone = Device::new(&sub, "Phone").await;
    phone.sync().await;
    assert_eq!(
        phone.read("thoughts/limited.md").as_deref(),
        Some("written while the account was over its budgets")
    );
}
