//! Bulk upload (`POST /vault/bulk`, README "Bulk upload"): when a push batch asks for the
//! bytes of many notes, they go up as one incoming pack (the distinct blobs back to back,
//! with an index), in one PUT, and `POST /vault/bulk/confirm` checks, splits and commits
//! them, instead of one PUT per note. A failure before the pack is uploaded falls back to the
//! per-note PUTs and confirm for the batch; a failed bulk confirm is followed by the per-note
//! confirm of the same files (a bulk confirm that committed but whose answer was lost is then
//! answered `confirmed`; what it did not commit is `missing` and pushed again next round).
//! An end-to-end encrypted vault does the same with its ciphertexts and sealed confirm
//! entries (`crate::api`'s `sealed_bulk`).

use std::collections::{BTreeSet, HashMap};

use super::Syncer;
use crate::api::{
    BulkBlob, ConfirmAnswer, FileEntry, MAX_BLOBS_PER_BULK_PACK, MAX_BULK_PACK_BYTES, Upload,
};
use crate::error::Result;
use crate::scan::hash_bytes;

/// From how many blobs to upload a push batch goes through a pack (fewer go one PUT per
/// note). Note by note, N blobs cost N PUTs, 16 at a time (N/16 round trips); through a
/// pack, two more requests than a confirm (start and one PUT), one after the other, plus the
/// server's split (a few ms per blob, 32 at a time). At a phone's 50 ms round trip the two
/// meet at about 32 blobs; 64 keeps everyday edits on the per-note path, which puts no work
/// on the server. Estimated from those counts (BENCHMARKS.md part 2 measures 10,000 notes
/// both ways).
pub const BULK_THRESHOLD: usize = 64;

/// An incoming pack: the bytes and the index of the distinct blobs of `uploads` that need
/// uploading (an upload URL) and whose bytes are in `bytes_of`, in order; `None` when it
/// would not fit one pack.
pub fn build_pack(
    uploads: &[Upload],
    bytes_of: &HashMap<String, Vec<u8>>,
) -> Option<(Vec<u8>, Vec<BulkBlob>)> {
    let mut seen = BTreeSet::new();
    let mut pack = Vec::new();
    let mut index = Vec::new();
    for u in uploads.iter().filter(|u| u.needs_bytes()) {
        let Some(bytes) = bytes_of.get(u.path.as_str()) else {
            continue;
        };
        let hash = u.content_hash.to_hex();
        if !seen.insert(hash.clone()) {
            continue;
        }
        index.push(BulkBlob {
            content_hash: hash,
            offset: i64::try_from(pack.len()).ok()?,
            length: i64::try_from(bytes.len()).ok()?,
        });
        pack.extend_from_slice(bytes);
    }
    let fits = !index.is_empty()
        && index.len() <= MAX_BLOBS_PER_BULK_PACK
        && i64::try_from(pack.len()).is_ok_and(|n| n <= MAX_BULK_PACK_BYTES);
    fits.then_some((pack, index))
}

impl Syncer {
    /// From how many blobs a push batch uploads through a pack (see [`BULK_THRESHOLD`];
    /// `usize::MAX`: never, 1: always).
    pub fn set_bulk_threshold(&mut self, blobs: usize) {
        self.bulk_threshold = blobs;
    }

    /// Uploads and confirms `to_confirm` through one pack when the batch asks for at least
    /// the threshold's blobs (ciphertexts on an encrypted vault): the confirm's answer, or
    /// `None` (below the threshold, or a bulk step failed) for the per-note path.
    pub(super) async fn try_bulk(
        &self,
        uploads: &[Upload],
        bytes_of: &HashMap<String, Vec<u8>>,
        to_confirm: &[FileEntry],
    ) -> Result<Option<ConfirmAnswer>> {
        let needed: BTreeSet<_> = uploads
            .iter()
            .filter(|u| u.needs_bytes())
            .map(|u| u.content_hash)
            .collect();
        if needed.len() < self.bulk_threshold {
            return Ok(None);
        }
        // An encrypted vault's pack holds the ciphertexts its push announced.
        let stored = self.api.stored_bytes_of(uploads);
        let Some((pack, index)) = build_pack(uploads, stored.as_ref().unwrap_or(bytes_of)) else {
            return Ok(None);
        };
        let Ok(started) = self.api.bulk_start(&hash_bytes(&pack), pack.len()).await else {
            return Ok(None);
        };
        if self.api.bulk_upload(&started, pack).await.is_err() {
            return Ok(None);
        }
        match self
            .api
            .bulk_confirm(&started.pack_id, &index, to_confirm)
            .await
        {
            Ok(answer) => Ok(Some(answer)),
            // The pack arrived but the confirm's answer did not (or it was refused): the
            // per-note confirm says what the server holds: `confirmed` for what the bulk
            // confirm committed, `missing` (pushed again next round) for the rest. No blob
            // is uploaded twice.
            Err(_) => Ok(Some(self.api.confirm(to_confirm).await?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steel_protocol::{ContentHash, VaultPath};

    fn upload(path: &str, bytes: &[u8], url: bool) -> Upload {
        Upload {
            path: VaultPath::parse(path).expect("path"),
            base_version: 0,
            content_hash: ContentHash::of(bytes),
            size_bytes: bytes.len() as i64,
            upload_url: url.then(|| "https://bucket.invalid/x".to_owned()),
            method: None,
            headers: None,
            expires_at: None,
            deferred: false,
        }
    }

    #[test]
    fn a_pack_holds_each_needed_blob_once_back_to_back() {
        let uploads = vec![
            upload("a.md", b"aa", true),
            upload("b.md", b"bbb", true),
            upload("copy.md", b"aa", true),
            upload("held.md", b"server has it", false),
            upload("unread.md", b"not read", true),
        ];
        let bytes_of: HashMap<String, Vec<u8>> = [
            ("a.md", &b"aa"[..]),
            ("b.md", b"bbb"),
            ("copy.md", b"aa"),
            ("held.md", b"server has it"),
        ]
        .into_iter()
        .map(|(p, b)| (p.to_owned(), b.to_vec()))
        .collect();
        let (pack, index) = build_pack(&uploads, &bytes_of).expect("a pack");
        assert_eq!(pack, b"aabbb");
        let got: Vec<(String, i64, i64)> = index
            .into_iter()
            .map(|b| (b.content_hash, b.offset, b.length))
            .collect();
        assert_eq!(
            got,
            vec![
                (ContentHash::of(b"aa").to_hex(), 0, 2),
                (ContentHash::of(b"bbb").to_hex(), 2, 3),
            ]
        );
        // Nothing to upload, or more blobs than a pack holds: no pack.
        assert!(build_pack(&uploads[3..4], &bytes_of).is_none());
        let many: Vec<Upload> = (0..=MAX_BLOBS_PER_BULK_PACK)
            .map(|i| upload(&format!("{i}.md"), &i.to_le_bytes(), true))
            .collect();
        let many_bytes: HashMap<String, Vec<u8>> = (0..=MAX_BLOBS_PER_BULK_PACK)
            .map(|i| (format!("{i}.md"), i.to_le_bytes().to_vec()))
            .collect();
        assert!(build_pack(&many, &many_bytes).is_none());
        assert!(build_pack(&many[1..], &many_bytes).is_some());
    }
}
