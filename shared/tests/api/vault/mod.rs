//! The vault API end to end through the handlers: real Postgres, s3s-fs (which checks SigV4,
//! expiry and `x-amz-checksum-sha256`) behind presigned URLs, and an SQS queue on moto.

mod allowance;
mod case_twins;
mod conflicts;
mod deletes;
pub mod encrypted;
mod isolation;
mod model_diff;
mod model_diff_migration;
mod model_diff_rewind;
mod model_diff_sealed;
mod paths;
mod retries;
mod samples;
mod state;
mod sync;
mod uploads;
mod validation;

use serde_json::{Value, json};

/// The hex SHA-256 of `bytes`, as a push names them.
pub fn sha256_hex(bytes: &[u8]) -> String {
    steel_core::domain::ContentHash::of(bytes).to_hex()
}

/// One file of a push, confirm or delete request.
pub fn entry(path: &str, base: i64, bytes: &[u8]) -> Value {
    json!({"path": path, "base_version": base, "content_hash": sha256_hex(bytes), "size_bytes": bytes.len()})
}

/// `{"files": [entry(path, base, bytes)]}`
pub fn one_file(path: &str, base: i64, bytes: &[u8]) -> Value {
    json!({"files": [entry(path, base, bytes)]})
}

/// The user's newest cursor (what `state` hands out after a change; confirm and delete
/// answer none).
pub async fn head_cursor(
    app: &crate::support::TestApp,
    user: steel_core::domain::UserId,
) -> String {
    steel_core::db::files::current_cursor(&app.db, user)
        .await
        .expect("cursor")
        .expect("user")
        .to_string()
}
