//! `POST /vault/bulk/confirm` of an end-to-end encrypted account: the incoming pack holds
//! ciphertext blobs (each named by the SHA-256 of its ciphertext), checked and split into
//! their keys exactly as a plaintext pack is (`crate::handlers::bulk::receive`: nothing is
//! committed before every blob's bytes are verified), then the files, in the shape of the
//! encrypted per-note confirm, commit as that confirm commits them (same rules, dedupe by
//! blob id, sealed fields beside each version, a change notice without paths).

use super::write::commit_sealed;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::handlers::bulk::receive;
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::WriteState;
use crate::vault::request;
use crate::vault::sealed::parse_confirm;
use steel_protocol::wire::SealedBulkConfirmRequest;

/// `POST /vault/bulk/confirm` of an encrypted account; answers as its per-note confirm does.
pub async fn bulk_confirm(
    state: &WriteState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let body: SealedBulkConfirmRequest = request.json()?;
    request::check_count(body.files.len())?;
    let parsed = parse_confirm(&body.files, state.app.config.limits.max_file_bytes);
    let pack = receive(state, caller, &body.pack_id, &body.blobs).await?;
    let answer = commit_sealed(state, caller, parsed).await?;
    pack.finish(state, caller).await;
    ApiResponse::ok(&answer)
}
