//! `openapi.yaml` describes the API the code really serves: it is OpenAPI 3.1, it has exactly
//! the routes of the cargo-lambda router, the sample events in `events/` conform to it (and
//! the deliberately bad ones do not), and its checks reject wrong answers. The answers of the
//! handler tests are checked against it by the harness (`common::call_event`).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use common::openapi::{self, OpenApi};
use serde_json::{Value, json};
use steel_core::http::ApiRequest;

/// `(METHOD, path)` → function, from `[workspace.metadata.lambda.watch.router]`.
fn router() -> BTreeMap<(String, String), String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let text = std::fs::read_to_string(&path).expect("root Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml parses");
    let table = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("[workspace.metadata.lambda.watch.router]");
    let mut out = BTreeMap::new();
    for (route, targets) in table {
        for target in targets.as_array().expect("route targets") {
            let method = target["method"]
                .as_str()
                .expect("method")
                .to_ascii_uppercase();
            let function = target["function"].as_str().expect("function").to_owned();
            assert!(
                out.insert((method.clone(), route.clone()), function)
                    .is_none(),
                "{method} {route} routed twice"
            );
        }
    }
    out
}

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
        // A body is JSON, and required, except where the operation takes none (GETs and
        // removing a device) or an optional one (logout).
        let body = match (op.method.as_str(), op.path.as_str()) {
            ("GET", _) | ("DELETE", "/devices/{device_id}") => None,
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
fn the_document_has_exactly_the_routes_of_the_router() {
    let routed: BTreeSet<(String, String)> = router().into_keys().collect();
    let documented: BTreeSet<(String, String)> = openapi::spec()
        .operations
        .iter()
        .map(|op| (op.method.clone(), op.path.clone()))
        .collect();
    assert_eq!(
        routed.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routed but not documented"
    );
    assert_eq!(
        documented.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not routed"
    );
    assert_eq!(routed.len(), 12);
    // A router template is one OpenAPI can state: whole-segment `{name}` variables only
    // (no `{*catch_all}`, no `:name`), and it matches what API Gateway will hand over.
    for (method, route) in &routed {
        for segment in route.split('/').skip(1) {
            assert!(
                openapi::template_variable(segment).is_some()
                    || !segment.contains(['{', '}', '*', ':']),
                "{method} {route}: segment {segment:?} is not a literal or a {{name}}"
            );
        }
    }
    let spec = openapi::spec();
    let op = spec
        .operation("DELETE", "/devices/5f0c6a52-3d1e-4c4f-9a55-2f0f3b6f1a10")
        .expect("templated route");
    assert_eq!(op.route(), "DELETE /devices/{device_id}");
}

/// The route (`METHOD template`) and function of a concrete request, and the values of the
/// template's variables: an exact route wins, then the most specific template, as the router
/// and API Gateway choose.
fn route_of(
    routes: &BTreeMap<(String, String), String>,
    method: &str,
    path: &str,
) -> Option<(String, String, BTreeMap<String, String>)> {
    routes
        .iter()
        .filter(|((m, _), _)| m == method)
        .filter_map(|((m, template), function)| {
            let values = openapi::match_template(template, path)?;
            let rank: Vec<bool> = template
                .split('/')
                .map(|s| openapi::template_variable(s).is_some())
                .collect();
            Some((rank, (format!("{m} {template}"), function.clone(), values)))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, found)| found)
}

#[test]
fn routes_match_templated_paths_exact_ones_first() {
    let routes = router();
    let route = |method: &str, path: &str| {
        route_of(&routes, method, path).map(|(route, function, values)| {
            (route, function, values.into_iter().collect::<Vec<_>>())
        })
    };
    let id = |v: &str| vec![("device_id".to_owned(), v.to_owned())];
    assert_eq!(
        route("DELETE", &format!("/devices/{UUID}")),
        Some((
            "DELETE /devices/{device_id}".into(),
            "remove-device".into(),
            id(UUID)
        ))
    );
    // The handler answers 404 to an id that is not a UUID: still its route.
    assert_eq!(
        route("DELETE", "/devices/not-a-uuid").map(|r| r.1),
        Some("remove-device".into())
    );
    assert_eq!(
        route("POST", "/devices/register"),
        Some((
            "POST /devices/register".into(),
            "register".into(),
            Vec::new()
        ))
    );
    let device_path = format!("/devices/{UUID}");
    for (method, path) in [
        ("DELETE", "/devices/"),
        ("DELETE", "/devices"),
        ("DELETE", "/devices/a/b"),
        ("GET", device_path.as_str()),
    ] {
        assert_eq!(route(method, path), None, "{method} {path}");
    }

    // The document matches the same way: a literal path before a template.
    let spec = openapi::spec();
    let op = |method: &str, path: &str| spec.operation(method, path).map(|op| op.route());
    assert_eq!(
        op("DELETE", &format!("/devices/{UUID}")).as_deref(),
        Some("DELETE /devices/{device_id}")
    );
    assert_eq!(
        op("DELETE", "/devices/not-a-uuid").as_deref(),
        Some("DELETE /devices/{device_id}")
    );
    assert_eq!(
        op("POST", "/devices/register").as_deref(),
        Some("POST /devices/register")
    );
    for (method, path) in [
        ("DELETE", "/devices/"),
        ("DELETE", "/devices/a/b"),
        ("POST", "/devices/x"),
    ] {
        assert!(op(method, path).is_none(), "{method} {path}");
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a/{x}/c": {"get": {"operationId": "x", "responses": {}}},
            "/a/b/{y}": {"get": {"operationId": "y", "responses": {}}},
            "/a/b/c": {"get": {"operationId": "exact", "responses": {}}},
            "/{z}/b/c": {"get": {"operationId": "z", "responses": {}}}
        }
    });
    let spec = OpenApi::from_value(doc).expect("loads");
    let path_of = |p: &str| spec.operation("GET", p).map(|op| op.path.clone());
    assert_eq!(path_of("/a/b/c").as_deref(), Some("/a/b/c"));
    assert_eq!(path_of("/a/b/d").as_deref(), Some("/a/b/{y}"));
    assert_eq!(path_of("/a/q/c").as_deref(), Some("/a/{x}/c"));
    assert_eq!(path_of("/q/b/c").as_deref(), Some("/{z}/b/c"));
    assert_eq!(path_of("/q/q/q"), None);
}

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
    let routes = router();
    let (mut good, mut bad) = (0, 0);
    for dir in std::fs::read_dir(common::events_dir()).expect("events/") {
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
                // Not an HTTP event (the notifier's SQS batch).
                assert_eq!(function, "notifier", "{name} is not an HTTP event");
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

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h
}

fn unauthorized_headers() -> HeaderMap {
    let mut h = json_headers();
    h.insert("www-authenticate", HeaderValue::from_static("Bearer"));
    h
}

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const UUID: &str = "5f0c6a52-3d1e-4c4f-9a55-2f0f3b6f1a10";

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

#[test]
fn the_checks_reject_answers_that_do_not_conform() {
    let spec: &OpenApi = openapi::spec();
    let ok = |method: &str, path: &str, status: u16, headers: &HeaderMap, body: &Value| {
        spec.check_response(method, path, status, headers, body)
            .unwrap_or_else(|e| panic!("should conform: {e}"));
    };
    let refused = |method: &str, path: &str, status: u16, headers: &HeaderMap, body: Value| {
        let why = spec
            .check_response(method, path, status, headers, &body)
            .expect_err(&format!(
                "{method} {path} {status} {body} should not conform"
            ));
        eprintln!("refused as expected: {why}");
        why
    };
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
    let mut stored = upload();
    for k in ["method", "headers", "expires_at"] {
        stored.as_object_mut().expect("object").remove(k);
    }
    stored["upload_url"] = Value::Null;
    ok(
        post,
        "/vault/push",
        200,
        &json,
        &push_answer(vec![stored.clone()]),
    );
    ok(post, "/auth/login", 200, &json, &tokens());
    let unauthorized =
        json!({"error": {"code": "missing_token", "message": "missing or invalid credentials"}});
    ok(
        post,
        "/vault/pull",
        401,
        &unauthorized_headers(),
        &unauthorized,
    );
    let gone = json!({"error": {"code": "resync_required", "message": "start again"}});
    ok("GET", "/vault/state", 410, &json, &gone);

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
    let mut half = stored;
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
    // 401 without `WWW-Authenticate`, or with another scheme.
    refused(post, "/vault/pull", 401, &json, unauthorized.clone());
    let mut basic = json_headers();
    basic.insert("www-authenticate", HeaderValue::from_static("Basic"));
    refused(post, "/vault/pull", 401, &basic, unauthorized.clone());
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

#[test]
fn the_checks_reject_requests_that_do_not_conform() {
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
    for bad in [
        [("limit", "0")],
        [("limit", "x")],
        [("cursor", "42")],
        [("since", "yesterday")],
        [("page", "2")],
    ] {
        assert!(
            spec.check_query("GET", "/vault/state", &q(&bad)).is_err(),
            "{bad:?}"
        );
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
        "file_count": 1, "devices": devices
    })
}

#[test]
fn the_account_operations_are_checked_precisely() {
    let spec = openapi::spec();
    let json = json_headers();
    let check = |method: &str, path: &str, status: u16, body: &Value| {
        let headers = if status == 401 {
            unauthorized_headers()
        } else {
            json_headers()
        };
        spec.check_response(method, path, status, &headers, body)
    };
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

    // Answers that do not.
    let mut extra = device(Some(true));
    extra["push_token"] = json!("tok");
    let mut bad_platform = device(Some(true));
    bad_platform["platform"] = json!("windows");
    let mut no_email = account_answer(vec![]);
    no_email.as_object_mut().expect("object").remove("email");
    let mut negative = account_answer(vec![]);
    negative["vault_size"] = json!(-1);
    for (method, path, status, body) in [
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
