//! Checks against the document: which operation serves a request, and whether a request
//! body, a query string or a response conforms to it.

use aws_lambda_events::http::HeaderMap;
use serde_json::Value;

use super::{OpenApi, Operation, Parameter, match_template, template_rank};

impl OpenApi {
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
