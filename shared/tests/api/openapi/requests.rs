//! The request checks refuse bodies and query strings that do not conform.

use serde_json::{Value, json};

use crate::support::openapi;

#[test]
fn request_bodies_that_do_not_conform_are_refused() {
    let spec = openapi::spec();
    let json_ct = Some("application/json");
    let ok = |path: &str, body: Value| {
        spec.check_request("POST", path, json_ct, body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{path} should conform: {e}"));
    };
    let refused = |path: &str, body: Value| {
        spec.check_request("POST", path, json_ct, body.to_string().as_bytes())
            .expect_err(&format!("{path}: {body} should not conform"));
    };
    ok("/vault/pull", json!({"paths": ["a.md"]}));
    ok(
        "/vault/pull",
        json!({"files": [{"path": "a.md", "version": 2}]}),
    );
    ok("/vault/pull", json!({"paths": ["a.md"], "files": null}));
    refused("/vault/pull", json!({}));
    refused("/vault/pull", json!({"paths": ["a.md"], "files": []}));
    refused(
        "/vault/delete",
        json!({"files": [{"path": "a.md", "base_version": 0}]}),
    );
    refused(
        "/auth/login",
        json!({"provider": "facebook", "identity_token": "x"}),
    );
    refused(
        "/devices/register",
        json!({"device_name": "Mac", "platform": "windows"}),
    );
    refused(
        "/vault/push",
        json!({"files": [{"path": "a.md", "base_version": 0, "content_hash": "abc", "size_bytes": 1}]}),
    );
    assert!(
        spec.check_request("POST", "/vault/push", json_ct, b"")
            .is_err()
    );
    assert!(
        spec.check_request(
            "POST",
            "/vault/push",
            Some("text/plain"),
            br#"{"files": []}"#
        )
        .is_err()
    );
}

#[test]
fn query_strings_that_do_not_conform_are_refused() {
    let spec = openapi::spec();
    // Query strings.
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(
        spec.check_query(
            "GET",
            "/vault/state",
            &q(&[("cursor", "c0"), ("limit", "5000")])
        )
        .is_ok()
    );
    assert!(
        spec.check_query(
            "GET",
            "/vault/state",
            &q(&[("since", "2026-11-24T20:00:00Z")])
        )
        .is_ok()
    );
    // A full listing's next page.
    assert!(
        spec.check_query("GET", "/vault/state", &q(&[("cursor", "l1000")]))
            .is_ok()
    );
    for bad in [
        [("limit", "0")],
        [("limit", "x")],
        [("cursor", "42")],
        [("cursor", "x42")],
        [("since", "yesterday")],
        [("page", "2")],
    ] {
        assert!(
            spec.check_query("GET", "/vault/state", &q(&bad)).is_err(),
            "{bad:?}"
        );
    }
}
