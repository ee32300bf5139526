//! Bulk upload of an end-to-end encrypted vault (README "Bulk upload"): the incoming pack
//! holds the notes' ciphertexts (the very bytes a per-note PUT would send, named by the
//! SHA-256 push answered), and `POST /vault/bulk/confirm` carries the sealed confirm entries
//! a per-note confirm would carry. No plaintext name or byte leaves the device.

use std::collections::HashMap;

use reqwest::Method;
use steel_protocol::wire::{BulkBlob, ConfirmAnswer, FileEntry, SealedBulkConfirmRequest, Upload};

use super::Api;
use crate::crypt::Crypt;
use crate::error::Result;
use crate::faults::Op;

impl Api {
    /// The bytes an upload of `uploads` stores, by path: on an encrypted vault the
    /// ciphertext each push encrypted (for the uploads that ask for bytes), `None` on a
    /// plaintext vault (whose stored bytes are the notes' own).
    pub fn stored_bytes_of(&self, uploads: &[Upload]) -> Option<HashMap<String, Vec<u8>>> {
        let c = self.crypt.as_ref()?;
        Some(
            (uploads.iter().filter(|u| u.needs_bytes()))
                .filter_map(|u| Some((u.path.to_string(), c.ciphertext(u.path.as_str())?)))
                .collect(),
        )
    }

    /// `POST /vault/bulk/confirm` of an encrypted account: the pack's index and the sealed
    /// confirm entries of `files`; the answer in plaintext names.
    pub(super) async fn sealed_bulk_confirm(
        &self,
        c: &Crypt,
        pack_id: &str,
        blobs: &[BulkBlob],
        files: &[FileEntry],
    ) -> Result<ConfirmAnswer> {
        let (names, refused, entries) = self.sealed_confirm_entries(c, files);
        let body = SealedBulkConfirmRequest {
            pack_id: pack_id.to_owned(),
            blobs: blobs.to_vec(),
            files: entries,
        };
        let a = self
            .call(
                Op::BulkConfirm,
                Method::POST,
                "/vault/bulk/confirm",
                Some(&body),
            )
            .await?;
        Self::open_confirm_answer(c, &names, refused, a)
    }
}
