//! The document itself: OpenAPI 3.1 with the shape every operation must have, and a loader
//! that resolves references.

use std::collections::BTreeSet;

use serde_json::json;

use super::{UUID, json_headers};
use crate::support::openapi::{self, OpenApi};

#[test]
fn the_document_is_openapi_3_1_with_a_bearer_scheme() {
    let spec = openapi::spec();
    let version = spec.doc["openapi"].as_str().expect("openapi: <version>");
    assert!(version.starts_with("3.1."), "openapi: {version}");
    assert!(spec.doc["info"]["title"].is_string());
    assert!(spec.doc["info"]["version"].is_string());
    let bearer = &spec.doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");
    assert_eq!(spec.doc["security"], json!([{"bearerAuth": []}]));

    // Every operation: an id, JSON in and out, a 500, and a 401 with `WWW-Authenticate`
    // where the bearer scheme applies; sign-in and refresh are the only public routes.
    let mut ids = BTreeSet::new();
    for op in &spec.operations {
        let raw = spec.doc.pointer(&op.pointer).expect("operation");
        let id = raw["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        let public = raw.get("security") == Some(&json!([]));
        assert_eq!(
            public,
            ["/auth/login", "/auth/refresh"].contains(&op.path.as_str()),
            "{}: security",
            op.route()
        );
        assert!(op.responses.contains_key("500"), "{}: no 500", op.route());
        assert!(op.responses.contains_key("413"), "{}: no 413", op.route());
        let unauthorized = op.responses.get("401").expect("every route can answer 401");
        assert!(
            unauthorized
                .headers
                .get("www-authenticate")
                .is_some_and(|h| h.required),
            "{}: 401 without WWW-Authenticate",
            op.route()
        );
        for (status, response) in &op.responses {
            assert!(
                response.content.contains_key("application/json"),
                "{} {status}: not JSON",
                op.route()
            );
            assert!(
                response.headers.contains_key("cache-control"),
                "{} {status}: no Cache-Control",
                op.route()
            );
        }
        // A body is JSON, and required, except where the operation takes none (GETs,
        // removing a device, the migration's switch and abandon) or an optional one (logout).
        let body = match (op.method.as_str(), op.path.as_str()) {
            ("GET", _)
            | ("DELETE", "/devices/{device_id}")
            | ("DELETE", "/vault/migration")
            | ("POST", "/vault/migration/switch") => None,
            ("POST", "/auth/logout") => Some(false),
            _ => Some(true),
        };
        match body {
            None => assert!(
                op.request.is_empty() && !op.request_required,
                "{}: takes no body",
                op.route()
            ),
            Some(required) => {
                assert_eq!(op.request_required, required, "{}: body", op.route());
                assert_eq!(
                    op.request.keys().collect::<Vec<_>>(),
                    ["application/json"],
                    "{}",
                    op.route()
                );
            }
        }
        // Every `{name}` of the path is a required path parameter, and no other is declared.
        let variables: BTreeSet<&str> = op
            .path
            .split('/')
            .filter_map(openapi::template_variable)
            .collect();
        let declared: BTreeSet<&str> = op
            .parameters
            .iter()
            .filter(|p| p.location == "path")
            .map(|p| {
                assert!(
                    p.required,
                    "{}: path parameter {} required",
                    op.route(),
                    p.name
                );
                p.name.as_str()
            })
            .collect();
        assert_eq!(variables, declared, "{}: path parameters", op.route());
    }
}

#[test]
fn loading_resolves_references_and_refuses_dangling_ones() {
    let doc = |schema_ref: &str| {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/notes/{id}/a b": {"get": {"responses": {
                "200": {"$ref": "#/components/responses/Note"}
            }}}},
            "components": {
                "responses": {"Note": {"description": "a note", "content": {
                    "application/json": {"schema": {"$ref": schema_ref}}
                }}},
                "schemas": {"Note": {
                    "type": "object", "additionalProperties": false, "required": ["id"],
                    "properties": {"id": {"type": "string", "format": "uuid"}}
                }}
            }
        })
    };
    // Through a response reference and a schema reference, under a path whose pointer
    // needs percent-encoding in a URI.
    let spec = OpenApi::from_value(doc("#/components/schemas/Note")).expect("loads");
    let h = json_headers();
    spec.check_response("GET", "/notes/42/a b", 200, &h, &json!({"id": UUID}))
        .expect("conforms");
    assert!(
        spec.check_response("GET", "/notes/42/a b", 200, &h, &json!({"id": "42"}))
            .is_err()
    );
    assert!(
        spec.check_response(
            "GET",
            "/notes/42/a b",
            200,
            &h,
            &json!({"id": UUID, "x": 1})
        )
        .is_err()
    );
    let err = OpenApi::from_value(doc("#/components/schemas/Nope"))
        .err()
        .expect("a dangling reference fails loading");
    assert!(err.contains("Nope"), "{err}");
}

/// Every code the server can answer (`ErrorCode::ALL`) is named in `openapi.yaml`, so a
/// generated client knows each one.
#[test]
fn every_error_code_is_documented() {
    let text = std::fs::read_to_string(crate::support::openapi::spec_path()).expect("spec");
    let missing: Vec<&str> = steel_core::error::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !text.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes missing from openapi.yaml: {missing:?}"
    );
}
