//! The one error type of the API and how it becomes an HTTP response, and the codes every
//! error and every per-file refusal carries.
//!
//! Client errors carry a stable snake_case `code` and a human message. Server errors carry
//! their full cause for the log; the client only ever sees a generic 500.

use std::borrow::Cow;

pub use steel_protocol::ErrorCode;
pub use steel_protocol::error::{ErrorBody, ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is invalid.
    #[error("{code}: {message}")]
    BadRequest {
        code: ErrorCode,
        message: Cow<'static, str>,
    },
    /// 401: no valid credentials. The message is fixed per code so it never says which
    /// check failed.
    #[error("unauthorized: {code}")]
    Unauthorized { code: ErrorCode },
    #[error("not found: {message}")]
    NotFound {
        code: ErrorCode,
        message: Cow<'static, str>,
    },
    /// 410: e.g. a sync cursor the server can no longer serve.
    #[error("{code}: {message}")]
    Gone {
        code: ErrorCode,
        message: Cow<'static, str>,
    },
    /// 409: the request was held for the caller to confirm; `details` carries the numbers.
    #[error("{code}: {message}")]
    Held {
        code: ErrorCode,
        message: Cow<'static, str>,
        details: serde_json::Value,
    },
    /// 409: the request does not fit the account's state (a plaintext body to an
    /// end-to-end encrypted account, or the reverse).
    #[error("{code}: {message}")]
    Conflict {
        code: ErrorCode,
        message: Cow<'static, str>,
    },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 412: a conditional write whose `If-Match` no longer names the current state.
    #[error("{code}: {message}")]
    PreconditionFailed {
        code: ErrorCode,
        message: Cow<'static, str>,
    },
    /// 428: a write that must be conditional came without `If-Match`.
    #[error("{code}: {message}")]
    PreconditionRequired {
        code: ErrorCode,
        message: Cow<'static, str>,
    },
    /// 429: the request is refused for now; the same request succeeds after `retry_after`
    /// seconds (answered as `Retry-After`), unless more of the same came in between.
    #[error("{code}: {message}")]
    TooManyRequests {
        code: ErrorCode,
        message: Cow<'static, str>,
        retry_after: u64,
    },
    /// 503: a service we depend on (e.g. an identity provider's keys) is unreachable.
    #[error("service unavailable: {code}")]
    ServiceUnavailable { code: ErrorCode },
    /// 503: the database or the bucket failed in a way a retry may not meet (connection
    /// lost, timeout, a 5xx). Nothing was half-done: writes are one transaction. Logged in
    /// full, answered with `Retry-After`.
    #[error("unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// 500: anything the client cannot fix. Logged in full, answered generically.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// Marks the cause of an error as transient (see [`ApiError::Unavailable`]); wrap the
/// dependency's error in it where it is classified, and [`ApiError`]'s `From` finds it
/// through any context added later.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct Transient(pub anyhow::Error);

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        if err.downcast_ref::<Transient>().is_some() {
            return ApiError::Unavailable(err);
        }
        match err.downcast::<sqlx::Error>() {
            Ok(db) => db.into(),
            Err(err) => ApiError::Internal(err),
        }
    }
}

impl ApiError {
    pub fn bad_request(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn gone(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Gone {
            code,
            message: message.into(),
        }
    }

    pub fn held(
        code: ErrorCode,
        message: impl Into<Cow<'static, str>>,
        details: serde_json::Value,
    ) -> Self {
        ApiError::Held {
            code,
            message: message.into(),
            details,
        }
    }

    pub fn too_many_requests(
        code: ErrorCode,
        message: impl Into<Cow<'static, str>>,
        retry_after: u64,
    ) -> Self {
        ApiError::TooManyRequests {
            code,
            message: message.into(),
            retry_after: retry_after.max(1),
        }
    }

    pub fn conflict(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: ErrorCode) -> Self {
        ApiError::Unauthorized { code }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::from(err.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized { .. } => 401,
            ApiError::NotFound { .. } => 404,
            ApiError::Held { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Gone { .. } => 410,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::PreconditionFailed { .. } => 412,
            ApiError::PreconditionRequired { .. } => 428,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::ServiceUnavailable { .. } | ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code }
            | ApiError::ServiceUnavailable { code }
            | ApiError::NotFound { code, .. }
            | ApiError::Held { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::TooManyRequests { code, .. }
            | ApiError::PreconditionFailed { code, .. }
            | ApiError::PreconditionRequired { code, .. }
            | ApiError::Gone { code, .. } => *code,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// What the client is told. Never includes the cause of a server error.
    pub fn body(&self) -> ErrorBody {
        let message: Cow<'_, str> = match self {
            ApiError::BadRequest { message, .. }
            | ApiError::NotFound { message, .. }
            | ApiError::Held { message, .. }
            | ApiError::Conflict { message, .. }
            | ApiError::TooManyRequests { message, .. }
            | ApiError::PreconditionFailed { message, .. }
            | ApiError::PreconditionRequired { message, .. }
            | ApiError::Gone { message, .. } => Cow::Borrowed(message.as_ref()),
            ApiError::Unauthorized { .. } => "missing or invalid credentials".into(),
            ApiError::ServiceUnavailable { .. } | ApiError::Unavailable(_) => {
                "a service this request needs is unavailable, try again".into()
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("request body is larger than {limit} bytes").into()
            }
            ApiError::Internal(_) => "internal server error".into(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().as_str().to_owned(),
                message: message.into_owned(),
                details: match self {
                    ApiError::Held { details, .. } => Some(details.clone()),
                    _ => None,
                },
            },
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if references_a_deleted_user(&err) {
            // The account was deleted while this request ran: what the token gets from
            // now on.
            return ApiError::unauthorized(ErrorCode::InvalidToken);
        }
        let transient = is_transient(&err);
        let err = anyhow::Error::new(err).context("database");
        if transient {
            ApiError::Unavailable(err)
        } else {
            ApiError::Internal(err)
        }
    }
}

/// A row of the user's could not be written because the user row is gone (a foreign key to
/// `users` failed: every such constraint is named `<table>_user_id_fkey`).
fn references_a_deleted_user(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|db| {
        db.code().as_deref() == Some("23503")
            && db
                .constraint()
                .is_some_and(|c| c.ends_with("_user_id_fkey"))
    })
}

/// Failures a retry may not meet: the connection (lost, refused, timed out, pool
/// exhausted), the server going away, a statement timeout, a serialization failure or
/// deadlock, an idle transaction ended by the server. Constraint violations and bugs are not.
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") // connection exception
                || code.starts_with("57P") // admin shutdown, crash shutdown, cannot connect now
                // statement timeout, serialization failure, deadlock, too many connections,
                // and a transaction the server ended for sitting idle (its work rolled back)
                || matches!(&*code, "57014" | "40001" | "40P01" | "53300" | "25P03")
        }),
        _ => false,
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
        let a = ApiError::unauthorized(ErrorCode::InvalidToken);
        let b = ApiError::unauthorized(ErrorCode::InvalidToken);
        assert_eq!(a.status(), 401);
        assert_eq!(
            serde_json::to_value(a.body()).expect("json"),
            serde_json::to_value(b.body()).expect("json")
        );
    }

    #[test]
    fn client_errors_keep_code_and_message() {
        let err = ApiError::not_found(ErrorCode::DeviceNotFound, "no such device");
        assert_eq!(err.status(), 404);
        let v = serde_json::to_value(err.body()).expect("json");
        assert_eq!(v["error"]["code"], "device_not_found");
        assert_eq!(v["error"]["message"], "no such device");
    }

    #[test]
    fn codes_serialise_to_their_documented_strings() {
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(
                !text.is_empty()
                    && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && !text.starts_with('_')
                    && !text.ends_with('_'),
                "{text} is not snake_case"
            );
            assert_eq!(serde_json::to_value(code).expect("json"), text);
        }
        let distinct: std::collections::HashSet<_> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(distinct.len(), ErrorCode::ALL.len(), "a code string twice");
    }
}
