//! `openapi.yaml` describes the API the code really serves: it is OpenAPI 3.1, it has exactly
//! the routes of the cargo-lambda router, the sample events in `events/` conform to it (and
//! the deliberately bad ones do not), and its checks reject wrong answers. The answers of the
//! handler tests are checked against it by `TestApp::send`.

mod account;
mod document;
mod limits;
mod requests;
mod responses;
mod routes;
mod samples;

use std::collections::BTreeMap;

use aws_lambda_events::http::{HeaderMap, HeaderValue};

use crate::support::openapi;

const UUID: &str = "5f0c6a52-3d1e-4c4f-9a55-2f0f3b6f1a10";

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
