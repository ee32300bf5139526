//! Routes: the document's are the router's, matched the same way, and the tests' route table
//! (`support::routes`) is the router's too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::json;

use super::{UUID, route_of};
use crate::support::openapi::{self, OpenApi};
use crate::support::routes::{Route, cargo_router};

#[test]
fn the_document_has_exactly_the_routes_of_the_router() {
    let routed: BTreeSet<(String, String)> = cargo_router().into_keys().collect();
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
    assert_eq!(routed.len(), 25);
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

#[test]
fn routes_match_templated_paths_exact_ones_first() {
    let routes = cargo_router();
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

/// The route table the tests dispatch through (`support::routes`) is the router's: the same
/// routes to the same functions, each function running `handlers::<its name>::handle` (as
/// its `main.rs` wires it), and every route found again from a concrete path.
#[test]
fn the_tests_route_table_is_the_routers() {
    let table: BTreeMap<(String, String), String> = Route::ALL
        .iter()
        .map(|r| {
            (
                (r.method().to_owned(), r.template().to_owned()),
                r.function().to_owned(),
            )
        })
        .collect();
    assert_eq!(table, cargo_router());
    for route in Route::ALL {
        let module = route.handler_module();
        assert_eq!(module, route.function().replace('-', "_"), "{route:?}");
        let main = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../functions")
            .join(route.function())
            .join("src/main.rs");
        let wiring = std::fs::read_to_string(&main).expect("the function's main.rs");
        assert!(
            wiring.contains(&format!("handlers::{module}"))
                && wiring.contains(&format!("{module}::handle)")),
            "{} does not run handlers::{module}::handle",
            main.display()
        );
        let path = route.template().replace("{device_id}", UUID);
        assert_eq!(
            Route::of(route.method(), &path).map(|(r, _)| r),
            Some(*route),
            "{} {path}",
            route.method()
        );
    }
}
