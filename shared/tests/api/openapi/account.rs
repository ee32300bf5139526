//! The account operations (`/account`, `/auth/logout`, `/devices/{device_id}`) are
//! described precisely enough to refuse near misses.

use serde_json::{Value, json};

use super::{UUID, json_headers, unauthorized_headers};
use crate::support::openapi;

fn device(current: Option<bool>) -> Value {
    let mut d = json!({
        "device_id": UUID, "device_name": "Mac", "platform": "macos",
        "push_environment": "production", "has_push_token": true,
        "created_at": "2026-11-24T20:00:00Z", "last_seen_at": "2026-11-24T20:00:00Z"
    });
    if let Some(c) = current {
        d["current"] = json!(c);
    }
    d
}

fn account_answer(devices: Vec<Value>) -> Value {
    json!({
        "user_id": UUID, "email": null, "provider": "google",
        "created_at": "2026-11-24T20:00:00Z", "vault_size": 12, "quota_bytes": 1_000_000,
        "file_count": 1, "stored_bytes": 40,
        "retention": {"history_days": 365, "deleted_days": 90}, "devices": devices
    })
}

/// An answer of the account operations against the document, with the headers its status
/// needs (`WWW-Authenticate` on a 401).
fn check(method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    let headers = if status == 401 {
        unauthorized_headers()
    } else {
        json_headers()
    };
    openapi::spec().check_response(method, path, status, &headers, body)
}

#[test]
fn conforming_account_answers_pass() {
    let error = |code: &str| json!({"error": {"code": code, "message": "x"}});
    let device_path = format!("/devices/{UUID}");
    // Conforming answers.
    for (method, path, status, body) in [
        (
            "GET",
            "/account",
            200,
            account_answer(vec![device(Some(true)), device(Some(false))]),
        ),
        ("GET", "/account", 200, account_answer(vec![])),
        ("GET", "/account", 401, error("missing_token")),
        ("GET", "/account", 400, error("invalid_body")),
        (
            "POST",
            "/auth/logout",
            200,
            json!({"revoked_tokens": 0, "all_devices": false}),
        ),
        ("POST", "/auth/logout", 400, error("invalid_refresh_token")),
        ("POST", "/auth/logout", 400, error("refresh_token_required")),
        ("POST", "/auth/logout", 400, error("malformed_json")),
        (
            "DELETE",
            device_path.as_str(),
            200,
            json!({"device_id": UUID, "removed": true}),
        ),
        (
            "DELETE",
            device_path.as_str(),
            404,
            error("device_not_found"),
        ),
        (
            "DELETE",
            "/devices/not-a-uuid",
            404,
            error("device_not_found"),
        ),
        ("DELETE", device_path.as_str(), 401, error("invalid_token")),
        (
            "DELETE",
            "/account",
            200,
            json!({"deleted": true, "objects_deleted": 3, "purge_complete": false}),
        ),
        ("DELETE", "/account", 400, error("confirmation_required")),
        ("DELETE", "/account", 400, error("missing_field")),
    ] {
        check(method, path, status, &body)
            .unwrap_or_else(|e| panic!("{method} {path} {status} should conform: {e}"));
    }
}

#[test]
fn account_answers_that_do_not_conform_are_refused() {
    let error = |code: &str| json!({"error": {"code": code, "message": "x"}});
    let device_path = format!("/devices/{UUID}");
    // Answers that do not.
    let mut extra = device(Some(true));
    extra["push_token"] = json!("tok");
    let mut bad_platform = device(Some(true));
    bad_platform["platform"] = json!("windows");
    let mut no_email = account_answer(vec![]);
    no_email.as_object_mut().expect("object").remove("email");
    let mut negative = account_answer(vec![]);
    negative["vault_size"] = json!(-1);
    let mut no_retention = account_answer(vec![]);
    no_retention
        .as_object_mut()
        .expect("object")
        .remove("retention");
    let mut zero_days = account_answer(vec![]);
    zero_days["retention"]["deleted_days"] = json!(0);
    let mut negative_stored = account_answer(vec![]);
    negative_stored["stored_bytes"] = json!(-5);
    for (method, path, status, body) in [
        ("GET", "/account", 200, no_retention),
        ("GET", "/account", 200, zero_days),
        ("GET", "/account", 200, negative_stored),
        ("GET", "/account", 200, account_answer(vec![device(None)])),
        ("GET", "/account", 200, account_answer(vec![extra])),
        ("GET", "/account", 200, account_answer(vec![bad_platform])),
        (
            "GET",
            "/account",
            200,
            account_answer(vec![{
                let mut d = device(Some(true));
                d["current"] = json!("yes");
                d
            }]),
        ),
        ("GET", "/account", 200, no_email),
        ("GET", "/account", 200, negative),
        ("GET", "/account", 400, error("missing_body")),
        ("GET", "/account", 404, error("not_found")),
        (
            "POST",
            "/auth/logout",
            200,
            json!({"revoked_tokens": 1, "all_devices": false, "family": "x"}),
        ),
        ("POST", "/auth/logout", 400, error("confirmation_required")),
        (
            "DELETE",
            device_path.as_str(),
            200,
            json!({"device_id": UUID, "removed": false}),
        ),
        ("DELETE", device_path.as_str(), 404, error("not_found")),
        ("DELETE", device_path.as_str(), 400, error("missing_field")),
        ("DELETE", "/devices/a/b", 404, error("device_not_found")),
        (
            "DELETE",
            "/account",
            200,
            json!({"deleted": true, "objects_deleted": 3}),
        ),
        ("DELETE", "/account", 400, error("invalid_refresh_token")),
        ("DELETE", "/account", 404, error("device_not_found")),
    ] {
        let why = check(method, path, status, &body).expect_err(&format!(
            "{method} {path} {status} {body} should not conform"
        ));
        eprintln!("refused as expected: {why}");
    }
}

#[test]
fn the_device_record_of_register_and_login_stays_closed() {
    let spec = openapi::spec();
    let json = json_headers();
    // The device record of register and login stays closed: `current` is the account's.
    spec.check_response(
        "POST",
        "/devices/register",
        200,
        &json,
        &json!({"device": device(None)}),
    )
    .expect("a device record conforms");
    for bad in [device(Some(true)), {
        let mut d = device(None);
        d.as_object_mut().expect("object").remove("last_seen_at");
        d
    }] {
        assert!(
            spec.check_response(
                "POST",
                "/devices/register",
                200,
                &json,
                &json!({"device": bad})
            )
            .is_err()
        );
    }
}

#[test]
fn account_requests_are_checked() {
    let spec = openapi::spec();
    let device_path = format!("/devices/{UUID}");
    // Requests.
    let json_ct = Some("application/json");
    let request = |method: &str, path: &str, body: &str| {
        spec.check_request(method, path, json_ct, body.as_bytes())
    };
    assert!(
        request("POST", "/auth/logout", "").is_ok(),
        "the body is optional"
    );
    assert!(request("POST", "/auth/logout", "{}").is_ok());
    assert!(request("POST", "/auth/logout", r#"{"all_devices": true}"#).is_ok());
    assert!(request("POST", "/auth/logout", r#"{"refresh_token": "r"}"#).is_ok());
    assert!(request("POST", "/auth/logout", r#"{"all_devices": "yes"}"#).is_err());
    assert!(request("POST", "/auth/logout", r#"{"all_devices": null}"#).is_err());
    assert!(request("DELETE", "/account", r#"{"confirm": "DELETE"}"#).is_ok());
    assert!(request("DELETE", "/account", r#"{"confirm": "yes"}"#).is_err());
    assert!(request("DELETE", "/account", "{}").is_err());
    assert!(request("DELETE", "/account", "").is_err());
    assert!(request("DELETE", &device_path, "").is_ok());
    assert!(
        request("DELETE", &device_path, "{}").is_err(),
        "takes no body"
    );
    assert!(request("GET", "/account", "").is_ok());
}
