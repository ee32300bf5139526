//! `openapi.yaml` (top of the repository) as a test oracle: loaded once, every schema of it
//! compiled once (JSON Schema 2020-12, the dialect of OpenAPI 3.1), and checks of requests and
//! responses against the operation of a route.
//!
//! References are resolved by the `jsonschema` crate: the whole OpenAPI document is registered
//! as one resource under [`BASE_URI`], and each body, header or parameter schema is compiled as
//! `{"$ref": "<BASE_URI>#<JSON pointer to that schema>"}`, so every
//! `$ref: '#/components/schemas/...'` inside it resolves against the document itself.
//! OpenAPI's own references (`$ref` to `#/components/responses/...`, `.../headers/...`, ...)
//! are followed here before taking the pointer of the schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_lambda_events::http::HeaderMap;
use jsonschema::Validator;
use serde_json::Value;

mod check;
mod load;

/// Where the document is registered; never fetched.
pub const BASE_URI: &str = "https://steel-notes.invalid/openapi.yaml";

pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub fn spec_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml")
}

/// A compiled schema and where it lives in the document.
pub struct Schema {
    pub pointer: String,
    validator: Validator,
}

impl Schema {
    /// Every error, one per line, or `Ok` when `instance` conforms.
    pub fn check(&self, instance: &Value) -> Result<(), String> {
        let errors: Vec<String> = self
            .validator
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("  - at '{at}': {e}")
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }
}

pub struct Header {
    pub required: bool,
    pub schema: Option<Schema>,
}

pub struct Response {
    pub pointer: String,
    /// Media type → schema.
    pub content: BTreeMap<String, Schema>,
    /// Lowercase header name → declaration.
    pub headers: BTreeMap<String, Header>,
}

pub struct Parameter {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub schema: Schema,
    /// The schema's `type`, to read a query string value as that type.
    pub kind: Option<String>,
}

pub struct Operation {
    pub method: String,
    pub path: String,
    pub pointer: String,
    pub request_required: bool,
    /// Media type → schema of the request body (empty: no body).
    pub request: BTreeMap<String, Schema>,
    pub parameters: Vec<Parameter>,
    /// Status code (`"200"`) → response.
    pub responses: BTreeMap<String, Response>,
}

impl Operation {
    /// `METHOD /path`
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

pub struct OpenApi {
    pub doc: Value,
    pub operations: Vec<Operation>,
}

/// The document, parsed and compiled on first use.
pub fn spec() -> &'static OpenApi {
    static SPEC: OnceLock<OpenApi> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        OpenApi::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// `Some(name)` when `segment` is a whole-segment template variable `{name}`.
pub fn template_variable(segment: &str) -> Option<&str> {
    segment
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .filter(|name| !name.is_empty() && !name.contains(['{', '}', '/']))
}

/// Matches a concrete `path` against a path template (`/devices/{device_id}`, the syntax of
/// OpenAPI and of the cargo-lambda router): the values of its variables, or `None`. A
/// variable matches exactly one non-empty segment; every other segment must be equal.
pub fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut values = BTreeMap::new();
    for (t, p) in t.iter().zip(&p) {
        match template_variable(t) {
            Some(name) if !p.is_empty() => {
                values.insert(name.to_owned(), (*p).to_owned());
            }
            Some(_) => return None,
            None if t == p => {}
            None => return None,
        }
    }
    Some(values)
}

/// Orders matching templates, most specific first: per segment, left to right, a literal
/// before a variable (so an exact path comes first).
pub fn template_rank(template: &str) -> Vec<bool> {
    template
        .split('/')
        .map(|s| template_variable(s).is_some())
        .collect()
}

/// Panics unless the answer of `method path` conforms to `openapi.yaml`.
pub fn validate_response(method: &str, path: &str, status: u16, headers: &HeaderMap, body: &Value) {
    if let Err(why) = spec().check_response(method, path, status, headers, body) {
        panic!("OpenAPI mismatch: {why}");
    }
}
