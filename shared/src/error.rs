//! The one error type of the API and how it becomes an HTTP response.
//!
//! Client errors carry a stable snake_case `code` and a human message. Server errors carry
//! their full cause for the log; the client only ever sees a generic 500.

use std::borrow::Cow;

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is invalid.
    #[error("{code}: {message}")]
    BadRequest {
        code: &'static str,
        message: Cow<'static, str>,
    },
    /// 401: no valid credentials. The message is fixed per code so it never says which
    /// check failed.
    #[error("unauthorized: {code}")]
    Unauthorized { code: &'static str },
    /// 403: authenticated, but not allowed.
    #[error("forbidden: {code}")]
    Forbidden { code: &'static str },
    #[error("not found: {message}")]
    NotFound {
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{code}: {message}")]
    Conflict {
        code: &'static str,
        message: Cow<'static, str>,
    },
    /// 410: e.g. a sync cursor the server can no longer serve.
    #[error("{code}: {message}")]
    Gone {
        code: &'static str,
        message: Cow<'static, str>,
    },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 503: a service we depend on (e.g. an identity provider's keys) is unreachable.
    #[error("service unavailable: {code}")]
    ServiceUnavailable { code: &'static str },
    /// 501: the endpoint exists but its logic is not built yet.
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
    /// 500: anything the client cannot fix. Logged in full, answered generically.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    pub code: &'a str,
    pub message: Cow<'a, str>,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn gone(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Gone {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str) -> Self {
        ApiError::Unauthorized { code }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized { .. } => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound { .. } => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict { .. } => 409,
            ApiError::Gone { .. } => 410,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::NotImplemented(_) => 501,
            ApiError::ServiceUnavailable { .. } => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code }
            | ApiError::Forbidden { code }
            | ApiError::ServiceUnavailable { code }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Gone { code, .. } => code,
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::NotImplemented(_) => "not_implemented",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// What the client is told. Never includes the cause of a server error.
    pub fn body(&self) -> ErrorBody<'_> {
        let message: Cow<'_, str> = match self {
            ApiError::BadRequest { message, .. }
            | ApiError::NotFound { message, .. }
            | ApiError::Conflict { message, .. }
            | ApiError::Gone { message, .. } => Cow::Borrowed(message.as_ref()),
            ApiError::Unauthorized { .. } => "missing or invalid credentials".into(),
            ApiError::Forbidden { .. } => "not allowed".into(),
            ApiError::ServiceUnavailable { .. } => {
                "a service this request needs is unavailable, try again".into()
            }
            ApiError::MethodNotAllowed => "method not allowed on this route".into(),
            ApiError::PayloadTooLarge { limit } => {
                format!("request body is larger than {limit} bytes").into()
            }
            ApiError::NotImplemented(what) => format!("{what} is not implemented yet").into(),
            ApiError::Internal(_) => "internal server error".into(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
            },
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(err).context("database"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_answer_generically() {
        let err = ApiError::internal(anyhow::anyhow!("password=hunter2 connection refused"));
        assert_eq!(err.status(), 500);
        let body = serde_json::to_string(&err.body()).expect("json");
        assert_eq!(
            body,
            r#"{"error":{"code":"internal_error","message":"internal server error"}}"#
        );
        // ...but the log line keeps the cause.
        assert!(err.to_string().contains("connection refused"));
    }

    #[test]
    fn unauthorized_never_says_which_check_failed() {
        let a = ApiError::unauthorized("invalid_token");
        let b = ApiError::unauthorized("invalid_token");
        assert_eq!(a.status(), 401);
        assert_eq!(
            serde_json::to_value(a.body()).expect("json"),
            serde_json::to_value(b.body()).expect("json")
        );
    }

    #[test]
    fn client_errors_keep_code_and_message() {
        let err = ApiError::conflict("case_conflict", "notes/A.md exists");
        assert_eq!(err.status(), 409);
        let v = serde_json::to_value(err.body()).expect("json");
        assert_eq!(v["error"]["code"], "case_conflict");
        assert_eq!(v["error"]["message"], "notes/A.md exists");
    }
}
