//! The real transport (reqwest) under the API client, against a local HTTP server: the
//! bearer token and JSON body go out, a 429 is waited out for its `Retry-After`, an answer
//! comes back decoded; presigned PUTs carry the signed headers, GETs bring the bytes back.

use std::sync::atomic::Ordering;

use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::api::{Api, Upload};
use crate::session::Session;

fn session(url: &str) -> Session {
    Session {
        api_url: url.to_owned(),
        user_id: "u".into(),
        device_id: None,
        device_name: "test".into(),
        access_token: "tok".into(),
        refresh_token: "r".into(),
        access_expires_at: chrono::Utc::now() + chrono::Duration::days(1),
    }
}

#[tokio::test]
async fn a_call_sends_the_token_and_body_and_waits_out_a_429() {
    let server = MockServer::start().await;
    let limited = json!({"error": {"code": "rate_limited", "message": "later"}});
    Mock::given(method("POST"))
        .and(path("/vault/push"))
        .and(header("authorization", "Bearer tok"))
        .and(header("content-type", "application/json"))
        .and(body_string(r#"{"files":[]}"#))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(limited),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let answer = json!({"uploads": [], "unchanged": [], "conflicts": [], "rejected": []});
    Mock::given(method("POST"))
        .and(path("/vault/push"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    let api = Api::new(session(&server.uri()), None);
    let pushed = api.push(&[]).await.expect("push");
    assert!(pushed.uploads.is_empty());
    assert_eq!(api.stats.rate_limited.load(Ordering::Relaxed), 1);
    assert_eq!(api.stats.api_requests.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn an_error_answer_keeps_its_code_and_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/vault/delete"))
        .respond_with(
            ResponseTemplate::new(409)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"error": {"code": "mass_delete_held", "message": "no"}})),
        )
        .mount(&server)
        .await;
    let api = Api::new(session(&server.uri()), None);
    match api.delete(&[], false).await {
        Err(crate::SyncError::Api {
            status,
            code,
            retry_after,
            ..
        }) => {
            assert_eq!(
                (status, code.as_str(), retry_after),
                (409, "mass_delete_held", Some(7))
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn presigned_transfers_carry_the_signed_headers_and_bring_bytes_back() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/bucket/k"))
        .and(header("x-amz-checksum-sha256", "abc"))
        .and(body_string("bytes"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/k"))
        .respond_with(ResponseTemplate::new(200).set_body_string("bytes"))
        .mount(&server)
        .await;
    let api = Api::new(session(&server.uri()), None);
    let upload: Upload = serde_json::from_value(json!({
        "path": "a.md", "base_version": 0, "size_bytes": 5,
        "content_hash": "ab".repeat(32),
        "upload_url": format!("{}/bucket/k", server.uri()), "method": "PUT",
        "headers": {"x-amz-checksum-sha256": "abc", "host": "ignored", "content-length": "5"}
    }))
    .expect("an upload entry");
    api.upload(&upload, b"bytes".to_vec()).await.expect("PUT");
    let got = api
        .download(&format!("{}/bucket/k", server.uri()))
        .await
        .expect("GET");
    assert_eq!(got, b"bytes");
    assert_eq!(api.stats.s3_requests.load(Ordering::Relaxed), 2);
}
