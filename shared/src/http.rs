//! The HTTP adapter: API Gateway HTTP API (payload 2.0) or function-URL events in, responses
//! out. Handlers see an [`ApiRequest`] and answer an [`ApiResponse`] or an [`ApiError`]; this
//! module does body decoding, size limits, JSON parsing with precise 400s, and logging.

use std::collections::HashMap;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method, header};
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// One HTTP request, decoded.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub request_id: String,
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub query: QueryMap,
    pub path_parameters: HashMap<String, String>,
    body: Vec<u8>,
}

impl ApiRequest {
    /// Decodes an API Gateway v2 event. A body larger than `max_body_bytes` (after base64
    /// decoding) is refused before anything parses it.
    pub fn from_event(
        event: ApiGatewayV2httpRequest,
        request_id: String,
        max_body_bytes: usize,
    ) -> Result<Self, ApiError> {
        let raw = event.body.unwrap_or_default();
        // base64 grows data by 4/3: a quick bound before decoding anything.
        let encoded_limit = max_body_bytes / 3 * 4 + 4;
        if raw.len()
            > if event.is_base64_encoded {
                encoded_limit
            } else {
                max_body_bytes
            }
        {
            return Err(ApiError::PayloadTooLarge {
                limit: max_body_bytes,
            });
        }
        let body = if event.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(raw.as_bytes())
                .map_err(|_| {
                    ApiError::bad_request(ErrorCode::InvalidBody, "body is not valid base64")
                })?
        } else {
            raw.into_bytes()
        };
        if body.len() > max_body_bytes {
            return Err(ApiError::PayloadTooLarge {
                limit: max_body_bytes,
            });
        }
        Ok(ApiRequest {
            request_id,
            method: event.request_context.http.method,
            path: event
                .raw_path
                .or(event.request_context.http.path)
                .unwrap_or_default(),
            headers: event.headers,
            query: event.query_string_parameters,
            path_parameters: event.path_parameters,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.first(name)
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Parses the body as JSON into `T`, with a 400 whose code says what is wrong:
    /// `invalid_content_type`, `missing_body`, `malformed_json`, `missing_field`,
    /// `invalid_type`, `unknown_field` or `invalid_value`, and a message naming the field.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let content_type = self.header("content-type").unwrap_or_default();
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidContentType,
                "Content-Type must be application/json",
            ));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                ErrorCode::MissingBody,
                "request body must be a JSON object",
            ));
        }
        parse_json(&self.body)
    }
}

/// JSON to `T` with errors mapped as [`ApiRequest::json`] describes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let field = err.path().to_string();
        json_error(&field, err.into_inner())
    })?;
    // Trailing garbage after the value is malformed too.
    de.end().map_err(|err| json_error("", err))?;
    Ok(value)
}

fn json_error(field: &str, err: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let text = err.to_string();
    let code = match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => ErrorCode::MalformedJson,
        Category::Data if text.starts_with("missing field") => ErrorCode::MissingField,
        Category::Data if text.starts_with("invalid type") => ErrorCode::InvalidType,
        Category::Data if text.starts_with("unknown field") => ErrorCode::UnknownField,
        Category::Data => ErrorCode::InvalidValue,
    };
    let message = if field.is_empty() || field == "." {
        text
    } else {
        format!("{field}: {text}")
    };
    ApiError::bad_request(code, message)
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl ApiResponse {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_string(value).map_err(ApiError::internal)?;
        Ok(Self::raw_json(status, body))
    }

    pub fn ok<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        Self::json(200, value)
    }

    fn raw_json(status: u16, body: String) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Answers carry tokens and presigned URLs: never cache them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    pub fn from_error(err: &ApiError) -> Self {
        let body = serde_json::to_string(&err.body()).unwrap_or_else(|_| {
            r#"{"error":{"code":"internal_error","message":"internal server error"}}"#.into()
        });
        let mut response = Self::raw_json(err.status(), body);
        if err.status() == 401 {
            response
                .headers
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if err.status() == 503 {
            // Every request is idempotent: the same request again is safe.
            response
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::TooManyRequests { retry_after, .. } = err {
            response
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }

    pub fn into_event_response(self) -> ApiGatewayV2httpResponse {
        let mut out = ApiGatewayV2httpResponse::default();
        out.status_code = i64::from(self.status);
        out.headers = self.headers;
        out.body = Some(Body::Text(self.body));
        out.is_base64_encoded = false;
        out
    }
}

/// Runs `handler` on one event: decodes, calls, maps errors, logs one line per request.
/// Server errors are logged in full with the request id and answered generically.
pub async fn serve<F, Fut>(
    event: ApiGatewayV2httpRequest,
    request_id: String,
    max_body_bytes: usize,
    handler: F,
) -> ApiResponse
where
    F: FnOnce(ApiRequest) -> Fut,
    Fut: Future<Output = Result<ApiResponse, ApiError>>,
{
    let started = Instant::now();
    let route = event
        .route_key
        .clone()
        .or_else(|| event.raw_path.clone())
        .unwrap_or_default();
    let result = match ApiRequest::from_event(event, request_id.clone(), max_body_bytes) {
        Ok(request) => handler(request).await,
        Err(err) => Err(err),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(response) => {
            tracing::info!(
                request_id,
                route,
                status = response.status,
                elapsed_ms,
                "request"
            );
            response
        }
        Err(err) => {
            let response = ApiResponse::from_error(&err);
            if matches!(err, ApiError::Internal(_) | ApiError::Unavailable(_)) {
                tracing::error!(request_id, route, status = response.status, elapsed_ms, error = %err, "request failed");
            } else {
                tracing::info!(
                    request_id,
                    route,
                    status = response.status,
                    elapsed_ms,
                    code = err.code().as_str(),
                    "request refused"
                );
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: u32,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        path: crate::domain::VaultPath,
    }

    fn code_of(body: &str) -> (ErrorCode, String) {
        match parse_json::<Sample>(body.as_bytes()) {
            Ok(v) => panic!("parsed {v:?}"),
            Err(err) => {
                let v = serde_json::to_value(err.body()).expect("json");
                assert_eq!(err.status(), 400);
                assert_eq!(v["error"]["code"], err.code().as_str());
                (
                    err.code(),
                    v["error"]["message"].as_str().expect("message").to_owned(),
                )
            }
        }
    }

    #[test]
    fn json_errors_say_what_is_wrong() {
        let (code, _) = code_of("{\"name\": ");
        assert_eq!(code, ErrorCode::MalformedJson);
        let (code, _) = code_of("{name}");
        assert_eq!(code, ErrorCode::MalformedJson);
        let (code, _) = code_of(r#"{"name":"a","count":1,"items":[]} x"#);
        assert_eq!(code, ErrorCode::MalformedJson);
        let (code, msg) = code_of(r#"{"name":"a","items":[]}"#);
        assert_eq!(code, ErrorCode::MissingField);
        assert!(msg.contains("count"), "{msg}");
        let (code, msg) = code_of(r#"{"name":"a","count":"3","items":[]}"#);
        assert_eq!(code, ErrorCode::InvalidType);
        assert!(msg.starts_with("count:"), "{msg}");
        let (code, msg) = code_of(r#"{"name":"a","count":3,"items":[],"x":1}"#);
        assert_eq!(code, ErrorCode::UnknownField);
        assert!(msg.contains('x'), "{msg}");
        let (code, msg) =
            code_of(r#"{"name":"a","count":3,"items":[{"path":"ok.md"},{"path":"../x"}]}"#);
        assert_eq!(code, ErrorCode::InvalidValue);
        assert!(msg.starts_with("items[1].path:"), "{msg}");
        let (code, _) = code_of(r#"{"name":"a","count":-1,"items":[]}"#);
        assert_eq!(code, ErrorCode::InvalidValue);
    }

    fn event(
        body: Option<&str>,
        base64: bool,
        content_type: Option<&str>,
    ) -> ApiGatewayV2httpRequest {
        let mut e = ApiGatewayV2httpRequest::default();
        e.body = body.map(str::to_owned);
        e.is_base64_encoded = base64;
        e.raw_path = Some("/vault/push".into());
        e.request_context.http.method = Method::POST;
        if let Some(ct) = content_type {
            e.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(ct).expect("header"),
            );
        }
        e
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(br#"{"a":1}"#);
        let req = ApiRequest::from_event(
            event(Some(&encoded), true, Some("application/json")),
            "r".into(),
            1024,
        )
        .expect("decoded");
        assert_eq!(req.body(), br#"{"a":1}"#);
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.path, "/vault/push");
        let err = ApiRequest::from_event(event(Some("%%%"), true, None), "r".into(), 1024)
            .expect_err("bad base64");
        assert_eq!(err.code(), ErrorCode::InvalidBody);
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(2000));
        let err = ApiRequest::from_event(event(Some(&big), false, None), "r".into(), 1024)
            .expect_err("too large");
        assert_eq!(err.status(), 413);
        let encoded = base64::engine::general_purpose::STANDARD.encode(big.as_bytes());
        let err = ApiRequest::from_event(event(Some(&encoded), true, None), "r".into(), 1024)
            .expect_err("too large");
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn content_type_must_be_json() {
        for (ct, ok) in [
            (Some("application/json"), true),
            (Some("application/json; charset=utf-8"), true),
            (Some("Application/JSON"), true),
            (Some("text/plain"), false),
            (Some("application/x-www-form-urlencoded"), false),
            (None, false),
        ] {
            let req = ApiRequest::from_event(event(Some("{}"), false, ct), "r".into(), 1024)
                .expect("decoded");
            let parsed = req.json::<serde_json::Value>();
            assert_eq!(parsed.is_ok(), ok, "{ct:?}");
            if !ok {
                assert_eq!(
                    parsed.expect_err("refused").code(),
                    ErrorCode::InvalidContentType
                );
            }
        }
        let req = ApiRequest::from_event(
            event(None, false, Some("application/json")),
            "r".into(),
            1024,
        )
        .expect("decoded");
        assert_eq!(
            req.json::<serde_json::Value>().expect_err("empty").code(),
            ErrorCode::MissingBody
        );
    }

    #[tokio::test]
    async fn serve_maps_errors_to_json_responses() {
        let response = serve(
            event(Some("{}"), false, None),
            "req-1".into(),
            1024,
            |_req| async { Err(ApiError::internal(anyhow::anyhow!("secret detail"))) },
        )
        .await;
        assert_eq!(response.status, 500);
        assert!(!response.body.contains("secret"));
        let body: serde_json::Value = serde_json::from_str(&response.body).expect("JSON body");
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(
            response.headers.get("content-type").expect("ct"),
            "application/json"
        );

        let response = serve(
            event(Some("{}"), false, None),
            "req-2".into(),
            1024,
            |_req| async { Err(ApiError::unauthorized(ErrorCode::InvalidToken)) },
        )
        .await;
        assert_eq!(response.status, 401);
        assert_eq!(
            response.headers.get("www-authenticate").expect("hdr"),
            "Bearer"
        );

        let out = serve(
            event(Some("{}"), false, None),
            "req-3".into(),
            1024,
            |_req| async { ApiResponse::ok(&serde_json::json!({"hello": "world"})) },
        )
        .await
        .into_event_response();
        assert_eq!(out.status_code, 200);
        assert!(matches!(out.body, Some(Body::Text(ref b)) if b == r#"{"hello":"world"}"#));
    }
}
