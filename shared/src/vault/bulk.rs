//! Bulk upload, the decisions: what a `POST /vault/bulk` may ask for, whether an incoming
//! pack's index describes the pack (the blobs back to back from offset 0, in order, covering
//! it exactly, each named once) and whether its bytes are the index's. Pure: the handler
//! (`crate::handlers::bulk`) loads and writes what these decide. Every client number is
//! range-checked before any arithmetic, and the sums use checked additions.

use std::collections::HashSet;

use crate::domain::ContentHash;
use crate::error::{ApiError, ErrorCode};
use steel_protocol::wire::{BulkBlob, BulkRequest, MAX_BLOBS_PER_BULK_PACK, MAX_BULK_PACK_BYTES};

/// One checked index entry: the blob's hash and its bytes' range in the pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub hash: ContentHash,
    pub start: usize,
    pub end: usize,
}

impl Entry {
    /// The blob's length, as the size recorded for it.
    pub fn size(&self) -> i64 {
        // Both are at most MAX_BULK_PACK_BYTES (checked when parsed): no overflow.
        i64::try_from(self.end - self.start).unwrap_or(i64::MAX)
    }
}

/// The pack a `POST /vault/bulk` announces: its SHA-256 and its length (1 to
/// [`MAX_BULK_PACK_BYTES`]).
pub fn parse_start(body: &BulkRequest) -> Result<(ContentHash, i64), ApiError> {
    let hash = ContentHash::parse(&body.content_hash).map_err(|_| {
        ApiError::bad_request(
            ErrorCode::InvalidContentHash,
            "content_hash is not a SHA-256 in lowercase hex (64 characters)",
        )
    })?;
    if !(1..=MAX_BULK_PACK_BYTES).contains(&body.size_bytes) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidSize,
            format!(
                "size_bytes must be from 1 to {MAX_BULK_PACK_BYTES} (got {})",
                body.size_bytes
            ),
        ));
    }
    Ok((hash, body.size_bytes))
}

/// A pack id as the client sent it; anything that is not one names no pack of the caller's.
pub fn parse_pack_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| not_found())
}

/// The answer for a pack that is not (or no longer) the caller's open incoming pack.
pub fn not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::PackNotFound,
        "no open incoming pack of yours has this pack_id: it was never handed out to this \
         account, was confirmed or refused already, or its upload allowance expired",
    )
}

fn bad_index(message: String) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidPackIndex, message)
}

/// Checks an index's shape (before any byte is read): at most
/// [`MAX_BLOBS_PER_BULK_PACK`] entries, each hash once and well-formed, each entry starting
/// where the previous one ended (the first at 0), with a length from 0 to
/// [`MAX_BULK_PACK_BYTES`], the whole at most [`MAX_BULK_PACK_BYTES`]. Answers the entries
/// and the length they cover (which must be the pack's).
pub fn check_index(blobs: &[BulkBlob]) -> Result<(Vec<Entry>, usize), ApiError> {
    if blobs.is_empty() || blobs.len() > MAX_BLOBS_PER_BULK_PACK {
        return Err(bad_index(format!(
            "an incoming pack holds 1 to {MAX_BLOBS_PER_BULK_PACK} blobs, the index names {}",
            blobs.len()
        )));
    }
    let max = usize::try_from(MAX_BULK_PACK_BYTES).unwrap_or(usize::MAX);
    let mut seen = HashSet::with_capacity(blobs.len());
    let mut entries = Vec::with_capacity(blobs.len());
    let mut end: usize = 0;
    for (i, blob) in blobs.iter().enumerate() {
        let hash = ContentHash::parse(&blob.content_hash).map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidContentHash,
                format!("blobs[{i}].content_hash is not a SHA-256 in lowercase hex"),
            )
        })?;
        if !seen.insert(hash) {
            return Err(bad_index(format!(
                "blobs[{i}] names a blob already in the index"
            )));
        }
        let length = usize::try_from(blob.length)
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| {
                bad_index(format!(
                    "blobs[{i}].length must be from 0 to {MAX_BULK_PACK_BYTES} (got {})",
                    blob.length
                ))
            })?;
        if usize::try_from(blob.offset) != Ok(end) {
            return Err(bad_index(format!(
                "blobs[{i}].offset must be {end}, where the previous blob ends (got {}): the \
                 blobs lie back to back in index order, with no gap or overlap",
                blob.offset
            )));
        }
        let next = end
            .checked_add(length)
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                bad_index(format!(
                    "blobs[{i}] ends past {MAX_BULK_PACK_BYTES} bytes, the largest pack"
                ))
            })?;
        entries.push(Entry {
            hash,
            start: end,
            end: next,
        });
        end = next;
    }
    Ok((entries, end))
}

/// Why a pack's bytes are not its index's.
#[derive(Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The pack is not as long as the index says.
    Length { indexed: usize, actual: usize },
    /// The bytes of entry `i` do not hash to its `content_hash`.
    Blob { i: usize },
}

impl Mismatch {
    pub fn into_error(self) -> ApiError {
        match self {
            Mismatch::Length { indexed, actual } => bad_index(format!(
                "the index covers {indexed} bytes but the pack holds {actual}: nothing was \
                 committed"
            )),
            Mismatch::Blob { i } => ApiError::bad_request(
                ErrorCode::PackMismatch,
                format!(
                    "the bytes of blobs[{i}] do not hash to its content_hash: nothing was \
                     committed, and the pack is deleted (upload a new one)"
                ),
            ),
        }
    }
}

/// Checks every entry's bytes against its hash (all of them before anything is written).
pub fn verify(bytes: &[u8], entries: &[Entry], indexed: usize) -> Result<(), Mismatch> {
    if bytes.len() != indexed {
        return Err(Mismatch::Length {
            indexed,
            actual: bytes.len(),
        });
    }
    for (i, e) in entries.iter().enumerate() {
        match bytes.get(e.start..e.end) {
            Some(part) if ContentHash::of(part) == e.hash => {}
            _ => return Err(Mismatch::Blob { i }),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "bulk_tests.rs"]
mod tests;
