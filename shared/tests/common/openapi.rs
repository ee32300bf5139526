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
use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

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

/// `/` → `~1`, `~` → `~0`.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn pointer_to(base: &str, tokens: &[&str]) -> String {
    let mut p = base.to_owned();
    for t in tokens {
        p.push('/');
        p.push_str(&escape(t));
    }
    p
}

/// A JSON pointer as a URI fragment: characters a fragment cannot hold are percent-encoded
/// (e.g. the braces of `/notes/{id}`).
fn fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for b in pointer.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
fn template_rank(template: &str) -> Vec<bool> {
    template
        .split('/')
        .map(|s| template_variable(s).is_some())
        .collect()
}

impl OpenApi {
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let doc: Value = serde_saphyr::from_str(text).map_err(|e| format!("YAML: {e}"))?;
        Self::from_value(doc)
    }

    pub fn from_value(doc: Value) -> Result<Self, String> {
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(BASE_URI, Draft::Draft202012.create_resource(doc.clone()))
            .and_then(|b| b.prepare())
            .map_err(|e| format!("registering the document: {e}"))?;
        let compile = |pointer: &str| -> Result<Schema, String> {
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .should_validate_formats(true)
                .build(&json!({ "$ref": format!("{BASE_URI}#{}", fragment(pointer)) }))
                .map_err(|e| format!("schema at {pointer}: {e}"))?;
            Ok(Schema {
                pointer: pointer.to_owned(),
                validator,
            })
        };
        // Follows OpenAPI `$ref`s (to components) until an object that is not one.
        let deref = |pointer: String| -> Result<(String, &Value), String> {
            let mut pointer = pointer;
            for _ in 0..16 {
                let value = doc
                    .pointer(&pointer)
                    .ok_or_else(|| format!("nothing at {pointer}"))?;
                match value.get("$ref").and_then(Value::as_str) {
                    Some(r) => {
                        pointer = r
                            .strip_prefix('#')
                            .ok_or_else(|| {
                                format!("{pointer}: only local references are supported ({r})")
                            })?
                            .to_owned();
                    }
                    None => return Ok((pointer, value)),
                }
            }
            Err(format!("{pointer}: reference loop"))
        };
        let content_of =
            |pointer: &str, object: &Value| -> Result<BTreeMap<String, Schema>, String> {
                let mut out = BTreeMap::new();
                if let Some(content) = object.get("content").and_then(Value::as_object) {
                    for (media, body) in content {
                        if body.get("schema").is_none() {
                            return Err(format!("{pointer}: {media} has no schema"));
                        }
                        let schema = pointer_to(pointer, &["content", media, "schema"]);
                        out.insert(media.to_ascii_lowercase(), compile(&schema)?);
                    }
                }
                Ok(out)
            };

        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("no paths")?;
        let mut operations = Vec::new();
        for (path, item) in paths {
            let item_pointer = pointer_to("", &["paths", path]);
            let item = item
                .as_object()
                .ok_or(format!("{item_pointer}: not an object"))?;
            for method in METHODS {
                if !item.contains_key(method) {
                    continue;
                }
                let op_pointer = pointer_to(&item_pointer, &[method]);
                let op = &item[method];

                let (request_required, request) = match op.get("requestBody") {
                    None => (false, BTreeMap::new()),
                    Some(_) => {
                        let (p, body) = deref(pointer_to(&op_pointer, &["requestBody"]))?;
                        let required = body.get("required").and_then(Value::as_bool) == Some(true);
                        (required, content_of(&p, body)?)
                    }
                };

                let mut parameters = Vec::new();
                let declared = [
                    (item_pointer.clone(), item.get("parameters")),
                    (op_pointer.clone(), op.get("parameters")),
                ];
                for (base, list) in declared {
                    let Some(list) = list.and_then(Value::as_array) else {
                        continue;
                    };
                    for i in 0..list.len() {
                        let (p, param) = deref(pointer_to(&base, &["parameters", &i.to_string()]))?;
                        let text =
                            |k: &str| param.get(k).and_then(Value::as_str).map(str::to_owned);
                        let name = text("name").ok_or(format!("{p}: no name"))?;
                        let location = text("in").ok_or(format!("{p}: no in"))?;
                        let schema_pointer = pointer_to(&p, &["schema"]);
                        let kind = deref(schema_pointer.clone()).ok().and_then(|(_, s)| {
                            s.get("type").and_then(Value::as_str).map(str::to_owned)
                        });
                        // Operation-level parameters override path-level ones.
                        parameters
                            .retain(|q: &Parameter| !(q.name == name && q.location == location));
                        parameters.push(Parameter {
                            required: param.get("required").and_then(Value::as_bool) == Some(true),
                            schema: compile(&schema_pointer)?,
                            name,
                            location,
                            kind,
                        });
                    }
                }

                let mut responses = BTreeMap::new();
                let declared = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .ok_or(format!("{op_pointer}: no responses"))?;
                for status in declared.keys() {
                    let (p, response) = deref(pointer_to(&op_pointer, &["responses", status]))?;
                    let mut headers = BTreeMap::new();
                    if let Some(hs) = response.get("headers").and_then(Value::as_object) {
                        for name in hs.keys() {
                            let (hp, header) = deref(pointer_to(&p, &["headers", name]))?;
                            let schema = match header.get("schema") {
                                Some(_) => Some(compile(&pointer_to(&hp, &["schema"]))?),
                                None => None,
                            };
                            headers.insert(
                                name.to_ascii_lowercase(),
                                Header {
                                    required: header.get("required").and_then(Value::as_bool)
                                        == Some(true),
                                    schema,
                                },
                            );
                        }
                    }
                    responses.insert(
                        status.clone(),
                        Response {
                            content: content_of(&p, response)?,
                            pointer: p,
                            headers,
                        },
                    );
                }

                operations.push(Operation {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    pointer: op_pointer,
                    request_required,
                    request,
                    parameters,
                    responses,
                });
            }
        }
        Ok(OpenApi { doc, operations })
    }

    /// The operation of `method` on `path` (a concrete path, e.g. an event's `rawPath`):
    /// a `{name}` segment of the document matches any one non-empty segment. Among the
    /// operations of `method` whose path matches, the most specific wins, as API Gateway and
    /// the router pick a route: an exact path over a template, and from left to right a
    /// literal segment over a `{name}` one.
    pub fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method))
            .filter(|op| match_template(&op.path, path).is_some())
            .min_by_key(|op| template_rank(&op.path))
    }

    fn operation_or_err(&self, method: &str, path: &str) -> Result<&Operation, String> {
        self.operation(method, path)
            .ok_or_else(|| format!("openapi.yaml has no operation for {method} {path}"))
    }

    /// A request body (as the handler would see it, after base64 decoding) against the
    /// operation's `requestBody`: a documented media type, JSON, conforming to its schema.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        let op = self.operation_or_err(method, path)?;
        let route = op.route();
        if body.iter().all(u8::is_ascii_whitespace) {
            return if op.request_required {
                Err(format!("{route}: the request body is required"))
            } else {
                Ok(())
            };
        }
        if op.request.is_empty() {
            return Err(format!("{route}: takes no request body"));
        }
        let media = content_type
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let schema = op.request.get(&media).ok_or_else(|| {
            format!(
                "{route}: request content type {media:?} is not documented (only {:?})",
                op.request.keys().collect::<Vec<_>>()
            )
        })?;
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| format!("{route}: the request body is not JSON: {e}"))?;
        schema.check(&value).map_err(|errors| {
            format!(
                "{route}: the request body does not conform to {}:\n{errors}\nbody: {value}",
                schema.pointer
            )
        })
    }

    /// Query string values against the operation's query parameters: each one documented,
    /// required ones present, each value (read as its schema's type) conforming.
    pub fn check_query(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Result<(), String> {
        let op = self.operation_or_err(method, path)?;
        let route = op.route();
        let declared: Vec<&Parameter> = op
            .parameters
            .iter()
            .filter(|p| p.location == "query")
            .collect();
        for (name, raw) in query {
            let param = declared
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| format!("{route}: query parameter {name:?} is not documented"))?;
            let value = match param.kind.as_deref() {
                Some("integer") | Some("number") => serde_json::from_str::<Value>(raw)
                    .ok()
                    .filter(Value::is_number)
                    .unwrap_or_else(|| Value::String(raw.clone())),
                Some("boolean") => match raw.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::String(raw.clone()),
                },
                _ => Value::String(raw.clone()),
            };
            param.schema.check(&value).map_err(|errors| {
                format!(
                    "{route}: query parameter {name}={raw:?} does not conform to {}:\n{errors}",
                    param.schema.pointer
                )
            })?;
        }
        for p in declared.iter().filter(|p| p.required) {
            if !query.iter().any(|(n, _)| n == &p.name) {
                return Err(format!(
                    "{route}: required query parameter {} is missing",
                    p.name
                ));
            }
        }
        Ok(())
    }

    /// A response against the operation's documented responses: the status is documented,
    /// its required headers are present and conform, and the JSON body conforms to the
    /// schema of its media type (`content_type`, default `application/json`).
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<(), String> {
        let op = self.operation_or_err(method, path)?;
        let route = op.route();
        let status_key = status.to_string();
        let range_key = format!("{}XX", status / 100);
        let response = op
            .responses
            .get(&status_key)
            .or_else(|| op.responses.get(&range_key))
            .or_else(|| op.responses.get("default"))
            .ok_or_else(|| {
                format!(
                    "{route} answered {status}, which openapi.yaml does not document for it (documented: {:?})\nbody: {body}",
                    op.responses.keys().collect::<Vec<_>>()
                )
            })?;
        for (name, header) in &response.headers {
            // OpenAPI: a Content-Type header description is ignored.
            if name == "content-type" {
                continue;
            }
            match headers.get(name.as_str()) {
                None if header.required => {
                    return Err(format!(
                        "{route} answered {status} without the required header {name} ({})",
                        response.pointer
                    ));
                }
                None => {}
                Some(v) => {
                    if let Some(schema) = &header.schema {
                        let v = Value::String(v.to_str().unwrap_or_default().to_owned());
                        schema.check(&v).map_err(|errors| {
                            format!("{route} answered {status} with header {name}: {v}, which does not conform to {}:\n{errors}", schema.pointer)
                        })?;
                    }
                }
            }
        }
        let media = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_else(|| "application/json".into());
        let schema = response.content.get(&media).ok_or_else(|| {
            format!(
                "{route} answered {status} as {media:?}, which {} does not document (only {:?})",
                response.pointer,
                response.content.keys().collect::<Vec<_>>()
            )
        })?;
        schema.check(body).map_err(|errors| {
            let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
            format!(
                "{route} answered {status} with a body that does not conform to openapi.yaml {}:\n{errors}\nbody: {pretty}",
                schema.pointer
            )
        })
    }
}

/// Panics unless the answer of `method path` conforms to `openapi.yaml`.
pub fn validate_response(method: &str, path: &str, status: u16, headers: &HeaderMap, body: &Value) {
    if let Err(why) = spec().check_response(method, path, status, headers, body) {
        panic!("OpenAPI mismatch: {why}");
    }
}
