//! Bulk upload, the function `bulk`: `POST /vault/bulk` hands out one presigned PUT for an
//! *incoming pack* (many new blobs back to back, under `incoming/{user}/{pack}`), bound to
//! the pack's SHA-256 and length and counted against the upload allowance; `POST
//! /vault/bulk/confirm` reads the pack in the function (bytes never pass through API
//! Gateway), checks every blob against its index entry, writes each blob the account lacks
//! at its own content-addressed key (recorded as verified under the blobs' shared locks,
//! as confirm records them), and only then commits the files exactly as `POST
//! /vault/push/confirm` does (same rules: a stale base is a conflict). A pack whose bytes are
//! not its index's commits nothing. The work of one confirm is bounded by the pack (at most
//! 64 MiB and 1,000 blobs), so it ends well within API Gateway's 29 s. An end-to-end
//! encrypted account's pack holds ciphertext blobs, checked and split the same way
//! ([`receive`]), and its files commit as its per-note confirm commits them
//! (`super::sealed::bulk_confirm`); a body of the other mode is refused (409). Once the
//! files committed, a pack whose every blob was new to the account is kept as a read pack
//! for `POST /vault/packs` ([`crate::packs::keep`]: copied inside the bucket, for
//! [`crate::packs::PACK_LIFETIME`]), so a second device's first sync reads it back without
//! a pack being built.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::confirm::commit_files;
use super::push::allow_uploads;
use crate::auth::{Caller, authenticate_within};
use crate::budget::Charge;
use crate::db::{blobs, sealed, uploads};
use crate::domain::ContentHash;
use crate::error::{ApiError, ErrorCode};
use crate::http::{ApiRequest, ApiResponse};
use crate::runtime::WriteState;
use crate::storage::PRESIGN_TTL;
use crate::vault::bulk::{self, Entry};
use crate::vault::request;
use steel_protocol::wire::{BulkAnswer, BulkBlob, BulkConfirmRequest, BulkRequest, PackedBlob};

/// Blobs of one pack written to their keys at once.
const WRITE_CONCURRENCY: usize = 32;

pub async fn handle(state: &WriteState, request: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = authenticate_within(&state.app, &request, Charge::WRITE).await?;
    let encrypted = sealed::is_encrypted(&state.app.db, caller.user_id).await?;
    crate::vault::sealed::check_mode(encrypted, request.body())?;
    if !request.path.ends_with("/confirm") {
        start(state, &caller, &request).await
    } else if encrypted {
        super::sealed::bulk_confirm(state, &caller, &request).await
    } else {
        confirm(state, &caller, &request).await
    }
}

/// `POST /vault/bulk`: a new incoming pack and its PUT. Its grant counts the pack twice:
/// the incoming object, and the blobs its confirm writes from it (see README, "Bound on a
/// user's bucket bytes").
async fn start(
    state: &WriteState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let body: BulkRequest = request.json()?;
    let (hash, size) = bulk::parse_start(&body)?;
    let user_id = caller.user_id;
    let pack_id = uuid::Uuid::new_v4();
    let counted = size
        .checked_mul(2)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("pack size overflow")))?;
    allow_uploads(
        &state.app,
        user_id,
        &[(
            crate::storage::incoming_grant_key(user_id, pack_id),
            counted,
        )],
    )
    .await?;
    let put = state
        .storage
        .presign_incoming(user_id, pack_id, &hash, size, PRESIGN_TTL)
        .await?;
    ApiResponse::ok(&BulkAnswer {
        pack_id: pack_id.to_string(),
        upload_url: put.url,
        method: put.method,
        headers: put.headers,
        expires_at: put.expires_at,
    })
}

/// `POST /vault/bulk/confirm` of a plaintext account.
async fn confirm(
    state: &WriteState,
    caller: &Caller,
    request: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let body: BulkConfirmRequest = request.json()?;
    request::check_count(body.files.len())?;
    let limits = &state.app.config.limits;
    let (proposals, rejected) = request::parse_files(&body.files, limits.max_file_bytes);
    let pack = receive(state, caller, &body.pack_id, &body.blobs).await?;
    let answer = commit_files(state, caller, proposals, rejected).await?;
    pack.finish(state, caller).await;
    ApiResponse::ok(&answer)
}

/// An incoming pack whose bytes were checked against its index and split into its blobs'
/// keys (each recorded as verified): the files of its confirm may commit now.
pub(crate) struct Received {
    pack_id: uuid::Uuid,
    blobs: usize,
    written: usize,
    /// The pack's index, when every blob of it was new to the account (so written by this
    /// confirm): such a pack is kept as a read pack once the files committed.
    keep: Option<Vec<PackedBlob>>,
    started: std::time::Instant,
    read: std::time::Duration,
    verified: std::time::Duration,
    split: std::time::Duration,
}

/// The first half of a bulk confirm, the same for both modes: the caller's open pack `raw_id`
/// (its grant renewed), read from the bucket, every blob checked against `index` (all of
/// them before anything is written), then each blob the account lacks written at its own
/// key and recorded as verified. A pack whose bytes are not its index's is closed and
/// nothing is written; every other refusal leaves it open for a corrected request.
pub(crate) async fn receive(
    state: &WriteState,
    caller: &Caller,
    raw_id: &str,
    index: &[BulkBlob],
) -> Result<Received, ApiError> {
    let app = &state.app;
    let user_id = caller.user_id;
    let pack_id = bulk::parse_pack_id(raw_id)?;
    let (entries, indexed) = bulk::check_index(index)?;

    // The pack's grant, renewed: it counts until every object written below is recorded or
    // old enough for the sweep. No grant: not this account's pack, or no longer open.
    let key = crate::storage::incoming_grant_key(user_id, pack_id);
    let horizon = app.config.lifecycle.orphan_age
        + chrono::TimeDelta::from_std(PRESIGN_TTL).map_err(ApiError::internal)?;
    let started = std::time::Instant::now();
    uploads::renew(&app.db, user_id, &key, chrono::Utc::now(), horizon)
        .await?
        .ok_or_else(bulk::not_found)?;
    let bytes = state
        .storage
        .get_incoming(user_id, pack_id)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                ErrorCode::PackNotUploaded,
                "the pack was not uploaded (PUT it to the upload_url of POST /vault/bulk \
                 first), or is gone (swept, or closed by a confirm of it whose answer was \
                 lost: POST /vault/push/confirm of the same files says what is committed); \
                 this request committed nothing",
            )
        })?;
    let read = started.elapsed();
    match bulk::verify(&bytes, &entries, indexed) {
        Ok(()) => {}
        // Bytes that do not hash to their entries are of no use: the pack goes, and its
        // grant. (An index of another length leaves it open for a corrected index.)
        Err(mismatch @ bulk::Mismatch::Blob { .. }) => {
            close(state, caller, pack_id).await?;
            return Err(mismatch.into_error());
        }
        Err(mismatch) => return Err(mismatch.into_error()),
    }
    let verified = started.elapsed();
    let written = write_blobs(state, caller, bytes, &entries).await?;
    let keep = (written == entries.len()).then(|| {
        (entries.iter())
            .map(|e| PackedBlob {
                content_hash: e.hash,
                // Both are at most MAX_BULK_PACK_BYTES (checked when parsed).
                offset: i64::try_from(e.start).unwrap_or(i64::MAX),
                length: e.size(),
            })
            .collect()
    });
    Ok(Received {
        pack_id,
        blobs: entries.len(),
        written,
        keep,
        started,
        read,
        verified,
        split: started.elapsed(),
    })
}

impl Received {
    /// After the files committed: keeps the pack as a read pack when all its blobs were new
    /// (see [`crate::packs::keep`]), logs the confirm's timings and closes the pack. A
    /// failure to keep or to close is never a 5xx the client would retry (the files are
    /// committed): a pack not kept is built when asked for, and one not closed is the
    /// sweep's to finish (the grant counts until then).
    pub(crate) async fn finish(self, state: &WriteState, caller: &Caller) {
        let Received {
            pack_id,
            blobs,
            written,
            keep,
            started,
            read,
            verified,
            split,
        } = self;
        let committed = started.elapsed();
        let mut kept = false;
        if let Some(index) = keep {
            let user_id = caller.user_id;
            match crate::packs::keep(&state.app.db, &state.storage, user_id, pack_id, &index).await
            {
                Ok(k) => kept = k,
                Err(err) => {
                    tracing::error!(%user_id, %pack_id, error = %err, "incoming pack not kept")
                }
            }
        }
        tracing::info!(
            user_id = %caller.user_id, %pack_id, blobs, written, kept,
            read_ms = read.as_millis(), verified_ms = verified.as_millis(),
            split_ms = split.as_millis(), committed_ms = committed.as_millis(),
            kept_ms = started.elapsed().as_millis(),
            "bulk confirm"
        );
        if let Err(err) = close(state, caller, pack_id).await {
            tracing::error!(user_id = %caller.user_id, %pack_id, error = %err, "incoming pack not closed");
        }
    }
}

/// Writes the pack's blobs the account has no verified blob of at their keys, and records
/// them as verified, under their shared locks (the janitor's sweep cannot delete one in
/// between); answers how many it wrote. A failure records none of them: what was written
/// is unrecorded, counted by the pack's grant and swept after the orphan age, and a retried
/// confirm writes it again.
async fn write_blobs(
    state: &WriteState,
    caller: &Caller,
    bytes: Vec<u8>,
    entries: &[Entry],
) -> Result<usize, ApiError> {
    let user_id = caller.user_id;
    let hashes: Vec<ContentHash> = entries.iter().map(|e| e.hash).collect();
    let known = blobs::verified(&state.app.db, user_id, &hashes).await?;
    let new: Vec<&Entry> = entries
        .iter()
        .filter(|e| known.get(&e.hash) != Some(&e.size()))
        .collect();
    let new_hashes: Vec<ContentHash> = new.iter().map(|e| e.hash).collect();
    let verifying = blobs::Verifying::begin(&state.app.db, user_id, &new_hashes).await?;
    let bytes = Arc::new(bytes);
    let permits = Arc::new(Semaphore::new(WRITE_CONCURRENCY));
    let mut writes = JoinSet::new();
    for e in &new {
        let (storage, bytes, permits) = (state.storage.clone(), bytes.clone(), permits.clone());
        let (hash, start, end) = (e.hash, e.start, e.end);
        writes.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let part = bytes.get(start..end).unwrap_or_default().to_vec();
            storage.put_blob(user_id, &hash, part).await
        });
    }
    while let Some(done) = writes.join_next().await {
        done.map_err(ApiError::internal)??;
    }
    let recorded: Vec<(ContentHash, i64)> = new.iter().map(|e| (e.hash, e.size())).collect();
    verifying.record(&recorded).await?;
    Ok(recorded.len())
}

/// Deletes the incoming pack and then its grant (the grant counts until the object is gone).
async fn close(state: &WriteState, caller: &Caller, pack_id: uuid::Uuid) -> Result<(), ApiError> {
    let key = crate::storage::incoming_key(caller.user_id, pack_id);
    if let Err(err) = state.storage.delete_keys(&[key]).await {
        // The sweep deletes it after the orphan age; the grant keeps counting until then.
        tracing::error!(user_id = %caller.user_id, %pack_id, error = %err, "incoming pack not deleted");
        return Ok(());
    }
    uploads::release(
        &state.app.db,
        caller.user_id,
        &crate::storage::incoming_grant_key(caller.user_id, pack_id),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::domain::UserId;
    use crate::storage::incoming_grant_key;

    #[test]
    fn a_pack_s_grant_key_is_its_own() {
        let id = uuid::Uuid::new_v4();
        let user = UserId(uuid::Uuid::new_v4());
        let other = UserId(uuid::Uuid::new_v4());
        assert_ne!(incoming_grant_key(user, id), incoming_grant_key(other, id));
        assert_ne!(
            incoming_grant_key(user, id),
            incoming_grant_key(user, uuid::Uuid::new_v4())
        );
    }
}
