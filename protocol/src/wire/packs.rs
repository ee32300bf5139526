//! `POST /vault/packs`: many blobs at once, as a few pack objects (blobs back to back) that
//! the device reads with plain presigned GETs, each blob located by its entry in the pack's
//! index (`blobs`: hash, offset, length).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ContentHash;

/// Most hashes one packs request may name.
pub const MAX_HASHES_PER_PACKS_REQUEST: usize = 10_000;

/// The largest pack the server builds, in bytes (a blob larger than this is never packed).
pub const MAX_PACK_BYTES: i64 = 64 * 1024 * 1024;

/// The body of `POST /vault/packs`: the content hashes (lowercase hex SHA-256, as `state`
/// and `pull` show them) of the blobs wanted. A hash named twice is packed once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacksRequest {
    pub hashes: Vec<String>,
}

/// Where one blob lies in its pack: `length` bytes from byte `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedBlob {
    pub content_hash: ContentHash,
    pub offset: i64,
    pub length: i64,
}

/// One pack object: its presigned GET (a `Range` header is allowed) and its index, in the
/// order the blobs lie in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pack {
    pub download_url: String,
    pub expires_at: DateTime<Utc>,
    pub size_bytes: i64,
    pub blobs: Vec<PackedBlob>,
}

/// `POST /vault/packs`. Every requested hash is in exactly one of: a pack's `blobs`,
/// `remaining` (not packed within this request's time and size bounds: ask again), or
/// `unpacked` (never packed: not the content of any version of the caller's notes, or larger
/// than a pack; fetch it through `/vault/pull`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacksAnswer {
    pub packs: Vec<Pack>,
    pub remaining: Vec<ContentHash>,
    pub unpacked: Vec<ContentHash>,
}
