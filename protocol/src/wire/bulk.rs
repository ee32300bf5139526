//! Bulk upload (`POST /vault/bulk`, `POST /vault/bulk/confirm`): many new blobs in one
//! uploaded object (an *incoming pack*: the blobs back to back), which the server checks blob
//! by blob against an index (hash, offset, length) and splits into the blobs' own keys before
//! it commits the files of the confirm, so a first upload of many notes costs a few requests
//! instead of one PUT per note. An end-to-end encrypted account uploads its ciphertext blobs
//! the same way and confirms with the sealed fields ([`SealedBulkConfirmRequest`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FileEntry, SealedConfirmEntry};
use crate::error::{ErrorCode, ParseError};

/// `POST /vault/push?presign=`: whether the answer presigns a PUT for each blob the server
/// needs (`true`, the default) or only marks it `deferred` (`false`): a device about to
/// upload a batch's blobs as one incoming pack uses no per-note URL, and 1,000 of them
/// make a 0.9 MB answer (and 1,000 signatures, and 1,000 grants of the upload allowance).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Presign {
    #[default]
    Each,
    Deferred,
}

impl Presign {
    /// The query parameter's name.
    pub const PARAM: &'static str = "presign";

    /// The parameter as sent (`None`: absent, the default); anything but `true` or `false`
    /// is `invalid_request`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ParseError> {
        match raw {
            None | Some("true") => Ok(Presign::Each),
            Some("false") => Ok(Presign::Deferred),
            Some(_) => Err(ParseError::new(
                ErrorCode::InvalidRequest,
                "presign must be \"true\" or \"false\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Presign::Each => "true",
            Presign::Deferred => "false",
        }
    }
}

/// Most blobs one incoming pack's index may name (a confirm names at most as many files).
pub const MAX_BLOBS_PER_BULK_PACK: usize = super::MAX_FILES_PER_REQUEST;

/// The largest incoming pack, in bytes (the server holds one in memory while it checks it).
pub const MAX_BULK_PACK_BYTES: i64 = 64 * 1024 * 1024;

/// The body of `POST /vault/bulk`: the pack about to be uploaded, by its SHA-256 (lowercase
/// hex) and its exact length (1 to [`MAX_BULK_PACK_BYTES`]). The PUT handed out accepts
/// exactly these bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRequest {
    pub content_hash: String,
    pub size_bytes: i64,
}

/// `POST /vault/bulk`: the pack's id (named again by the confirm) and its presigned PUT,
/// which must be sent with exactly `headers` (they bind it to the hash and the length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkAnswer {
    pub pack_id: String,
    pub upload_url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// One blob of an incoming pack: `length` bytes from byte `offset`, whose SHA-256 is
/// `content_hash` (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkBlob {
    pub content_hash: String,
    pub offset: i64,
    pub length: i64,
}

/// The body of `POST /vault/bulk/confirm`: the uploaded pack, its index (the blobs back to
/// back from offset 0, in order, covering the whole pack) and the files to commit, as for
/// `POST /vault/push/confirm` (a file may name a blob that is not in the pack but already
/// uploaded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkConfirmRequest {
    pub pack_id: String,
    pub blobs: Vec<BulkBlob>,
    pub files: Vec<FileEntry>,
}

/// The body of `POST /vault/bulk/confirm` for an end-to-end encrypted account: the pack
/// holds ciphertext blobs (each named by the SHA-256 of its ciphertext), and the files are
/// exactly what `POST /vault/push/confirm` of an encrypted account takes. The answer is a
/// [`SealedConfirmAnswer`](super::SealedConfirmAnswer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedBulkConfirmRequest {
    pub pack_id: String,
    pub blobs: Vec<BulkBlob>,
    pub files: Vec<SealedConfirmEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presign_is_true_false_or_absent() {
        for (raw, want) in [
            (None, Some(Presign::Each)),
            (Some("true"), Some(Presign::Each)),
            (Some("false"), Some(Presign::Deferred)),
            (Some(""), None),
            (Some("FALSE"), None),
            (Some("0"), None),
            (Some("no"), None),
        ] {
            assert_eq!(Presign::parse(raw).ok(), want, "{raw:?}");
        }
        for p in [Presign::Each, Presign::Deferred] {
            assert_eq!(Presign::parse(Some(p.as_str())).ok(), Some(p));
        }
    }
}
