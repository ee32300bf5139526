//! Reading the API's answers: the JSON of a success, the `{"error": ...}` of a refusal
//! (code, message and `Retry-After`) as a [`SyncError`], and the errors of requests that got
//! no answer.

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use steel_protocol::error::ErrorBody;

use super::{Failure, Response, TransferStats};
use crate::error::{Result, SyncError};
use crate::faults::Op;

pub(super) fn network(op: Op, e: Failure) -> SyncError {
    SyncError::Network {
        op: op.name(),
        message: e.message,
    }
}

pub(super) fn injected(op: Op, what: &str) -> SyncError {
    SyncError::Network {
        op: op.name(),
        message: format!("{what} (injected fault)"),
    }
}

pub(super) fn decode<T: DeserializeOwned>(op: Op, response: Response) -> Result<T> {
    decode_counted(op, response, &TransferStats::default())
}

pub(super) fn decode_counted<T: DeserializeOwned>(
    op: Op,
    response: Response,
    stats: &TransferStats,
) -> Result<T> {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let retry_after = retry_after_of(&response);
    let bytes = response.body;
    stats
        .bytes_received
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::Other(format!("unexpected answer to {}: {e}", op.name())));
    }
    let (code, message) = error_of(&bytes);
    if status == StatusCode::UNAUTHORIZED && op != Op::Login && op != Op::Refresh {
        return Err(SyncError::Auth(format!("{code}: {message}")));
    }
    Err(SyncError::Api {
        op: op.name(),
        status: status.as_u16(),
        code,
        message,
        retry_after,
    })
}

/// The answer's `Retry-After` as whole seconds (the API sends seconds, never a date).
pub(super) fn retry_after_of(response: &Response) -> Option<u64> {
    (response.retry_after.as_deref()).and_then(|v| v.trim().parse::<u64>().ok())
}

/// The code and message of an error answer's body (`http_error` and the start of the body
/// when it is not the API's error JSON).
pub(super) fn error_of(bytes: &[u8]) -> (String, String) {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (
            "http_error".to_owned(),
            String::from_utf8_lossy(bytes).chars().take(300).collect(),
        ),
    }
}
