//! The response checks refuse answers that do not conform: missing, extra or mistyped
//! fields, undocumented codes and statuses, a 401 without its header.

use aws_lambda_events::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::{UUID, json_headers, unauthorized_headers};
use crate::support::openapi;

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn upload() -> Value {
    json!({
        "path": "thoughts/Idea.md", "base_version": 0, "content_hash": HASH, "size_bytes": 4,
        "upload_url": "http://127.0.0.1:9001/bucket/u/blobs/x?X-Amz-Signature=abc",
        "method": "PUT",
        "headers": {"content-length": "4", "x-amz-checksum-sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
        "expires_at": "2026-11-24T20:05:00Z"
    })
}

fn push_answer(uploads: Vec<Value>) -> Value {
    json!({"uploads": uploads, "unchanged": [], "conflicts": [], "rejected": []})
}

fn tokens() -> Value {
    json!({
        "access_token": "a.b.c", "refresh_token": "r", "token_type": "Bearer",
        "expires_in": 3600, "user_id": UUID, "device_id": null
    })
}

/// A push answer's entry for a blob the server already has: no upload instructions.
fn stored() -> Value {
    let mut stored = upload();
    for k in ["method", "headers", "expires_at"] {
        stored.as_object_mut().expect("object").remove(k);
    }
    stored["upload_url"] = Value::Null;
    stored
}

fn unauthorized() -> Value {
    json!({"error": {"code": "missing_token", "message": "missing or invalid credentials"}})
}

/// Panics unless the answer conforms.
fn ok(method: &str, path: &str, status: u16, headers: &HeaderMap, body: &Value) {
    openapi::spec()
        .check_response(method, path, status, headers, body)
        .unwrap_or_else(|e| panic!("should conform: {e}"));
}

/// Panics if the answer conforms; why it does not.
fn refused(method: &str, path: &str, status: u16, headers: &HeaderMap, body: Value) -> String {
    let why = openapi::spec()
        .check_response(method, path, status, headers, &body)
        .expect_err(&format!(
            "{method} {path} {status} {body} should not conform"
        ));
    eprintln!("refused as expected: {why}");
    why
}

/// The checks are not simply failing.
#[test]
fn conforming_answers_pass() {
    let json = json_headers();
    let post = "POST";
    // Conforming answers pass: the checks are not simply failing.
    ok(
        post,
        "/vault/push",
        200,
        &json,
        &push_answer(vec![upload()]),
    );
    ok(
        post,
        "/vault/push",
        200,
        &json,
        &push_answer(vec![stored()]),
    );
    ok(post, "/auth/login", 200, &json, &tokens());
    ok(
        post,
        "/vault/pull",
        401,
        &unauthorized_headers(),
        &unauthorized(),
    );
    let gone = json!({"error": {"code": "resync_required", "message": "start again"}});
    ok("GET", "/vault/state", 410, &json, &gone);
}

#[test]
fn answers_with_missing_extra_or_mistyped_fields_are_refused() {
    let json = json_headers();
    let post = "POST";
    // A required field missing, a misnamed or extra field, a wrong type, a bad format.
    let mut missing = upload();
    missing
        .as_object_mut()
        .expect("object")
        .remove("upload_url");
    refused(post, "/vault/push", 200, &json, push_answer(vec![missing]));
    let mut renamed = upload();
    let url = renamed
        .as_object_mut()
        .expect("object")
        .remove("upload_url");
    renamed["uploadUrl"] = url.expect("url");
    let why = refused(post, "/vault/push", 200, &json, push_answer(vec![renamed]));
    assert!(why.contains("/uploads/0"), "{why}");
    let mut extra = push_answer(vec![]);
    extra["cursor"] = json!("c1");
    refused(post, "/vault/push", 200, &json, extra);
    let mut wrong_type = upload();
    wrong_type["size_bytes"] = json!("4");
    refused(
        post,
        "/vault/push",
        200,
        &json,
        push_answer(vec![wrong_type]),
    );
    let mut bad_hash = upload();
    bad_hash["content_hash"] = json!(HASH.to_uppercase());
    refused(post, "/vault/push", 200, &json, push_answer(vec![bad_hash]));
    // A stored blob answers no upload instructions.
    let mut half = stored();
    half["method"] = json!("PUT");
    refused(post, "/vault/push", 200, &json, push_answer(vec![half]));
    let mut bad_uuid = tokens();
    bad_uuid["user_id"] = json!("not-a-uuid");
    refused(post, "/auth/login", 200, &json, bad_uuid);
    let mut bad_time = tokens();
    bad_time["device"] = json!({
        "device_id": UUID, "device_name": "Mac", "platform": "macos",
        "push_environment": "production", "has_push_token": false,
        "created_at": "yesterday", "last_seen_at": "2026-11-24T20:00:00Z"
    });
    refused(post, "/auth/login", 200, &json, bad_time);
    // A 201 of register always carries the device.
    refused(post, "/devices/register", 201, &json, tokens());
    refused(
        "GET",
        "/vault/state",
        200,
        &json,
        json!({"files": [], "cursor": "42", "has_more": false, "server_time": "2026-11-24T20:00:01Z"}),
    );
}

#[test]
fn only_the_error_codes_documented_for_an_answer_pass() {
    let json = json_headers();
    let post = "POST";
    // Error codes: only the ones documented for that answer.
    refused(
        post,
        "/vault/pull",
        401,
        &unauthorized_headers(),
        json!({"error": {"code": "resync_required", "message": "x"}}),
    );
    refused(
        post,
        "/auth/login",
        400,
        &json,
        json!({"error": {"code": "too_many_files", "message": "x"}}),
    );
    refused(
        post,
        "/vault/pull",
        401,
        &unauthorized_headers(),
        json!({"error": {"code": "missing_token"}}),
    );
}

#[test]
fn a_401_needs_a_bearer_www_authenticate() {
    let json = json_headers();
    let post = "POST";
    // 401 without `WWW-Authenticate`, or with another scheme.
    refused(post, "/vault/pull", 401, &json, unauthorized());
    let mut basic = json_headers();
    basic.insert("www-authenticate", HeaderValue::from_static("Basic"));
    refused(post, "/vault/pull", 401, &basic, unauthorized());
}

#[test]
fn an_undocumented_status_or_route_is_refused() {
    let json = json_headers();
    let post = "POST";
    // A status the operation does not document, and a route that does not exist.
    let why = refused(
        post,
        "/vault/push",
        404,
        &json,
        json!({"error": {"code": "not_found", "message": "x"}}),
    );
    assert!(why.contains("does not document"), "{why}");
    refused("GET", "/vault/push", 200, &json, push_answer(vec![]));
    refused(post, "/vault/nope", 200, &json, json!({}));
}
