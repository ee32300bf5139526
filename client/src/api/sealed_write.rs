//! The writes of an end-to-end encrypted account: push (each note sealed and announced by
//! its path key) and confirm (each manifest sealed for the version push answered), whose
//! entries and answer a bulk confirm (`super::sealed_bulk`) shares. Helpers of
//! [`super::sealed`].

use std::collections::HashMap;

use reqwest::Method;
use serde_json::Number;
use steel_protocol::VaultPath;
use steel_protocol::wire::{
    ConfirmAnswer, FileEntry, Missing, Presign, PushAnswer, Rejected, SealedConfirmAnswer,
    SealedConfirmEntry, SealedConfirmRequest, SealedPushAnswer, SealedPushEntry, SealedPushRequest,
    Upload,
};

use super::Api;
use super::sealed::{Names, b64, named, names_of, rejected};
use crate::crypt::Crypt;
use crate::error::Result;
use crate::faults::Op;

impl Api {
    /// Encrypts each note (its bytes in `bytes_of`) and announces it.
    pub(super) async fn sealed_push(
        &self,
        c: &Crypt,
        files: &[FileEntry],
        bytes_of: &HashMap<String, Vec<u8>>,
        presign: Presign,
    ) -> Result<PushAnswer> {
        // A note whose path key the server keeps under another letter case is refused here
        // (see `Crypt::server_twin`), before its key names anything in this request; so is
        // a note whose key an earlier file of this request claims (its case twin), as a
        // plaintext server refuses a request's later twin. Sealed too, the two would share
        // one key and the remembered ciphertext of the first would be the second's: its
        // upload refused as `BadDigest` at every sync (simulation seed 447, both twins
        // revived here after a rewind deleted their note).
        let mut twins = Vec::new();
        let mut claimed: HashMap<String, VaultPath> = HashMap::new();
        let files: Vec<&FileEntry> = (files.iter())
            .filter(|f| {
                let twin = VaultPath::parse(&f.path).ok().and_then(|p| {
                    let other = c.server_twin(&p).or_else(|| {
                        let first = claimed.entry(p.case_key()).or_insert_with(|| p.clone());
                        (*first != p).then(|| first.clone())
                    })?;
                    Some(Rejected::case_conflict(&p, &other))
                });
                twins.extend(twin.clone());
                twin.is_none()
            })
            .collect();
        let (names, mut refused) = names_of(c, files.iter().map(|f| &f.path));
        refused.extend(twins);
        let mut body = Vec::new();
        for f in files {
            let (Ok(path), Some(bytes)) = (VaultPath::parse(&f.path), bytes_of.get(&f.path)) else {
                continue;
            };
            let (key, blob_id, content_hash, size) = c.seal_note(&path, bytes);
            body.push(SealedPushEntry {
                path_key: key.to_hex(),
                base_version: f.base_version.clone(),
                blob_id,
                content_hash,
                size_bytes: Number::from(size),
            });
        }
        let a: SealedPushAnswer = self
            .call(
                Op::Push,
                Method::POST,
                &super::vault::push_route(presign),
                Some(&SealedPushRequest { files: body }),
            )
            .await?;
        let mut uploads = Vec::new();
        for u in a.uploads {
            let path = named(&names, &u.path_key)?;
            c.announced(path.as_str(), u.version, &u.content_hash, u.size_bytes);
            uploads.push(Upload {
                path,
                base_version: u.base_version,
                content_hash: u.content_hash,
                size_bytes: u.size_bytes,
                upload_url: u.upload_url,
                method: u.method,
                headers: u.headers,
                expires_at: u.expires_at,
                deferred: u.deferred,
            });
        }
        refused.extend(rejected(&names, a.rejected));
        Ok(PushAnswer {
            uploads,
            unchanged: Self::open_versioned(c, &names, a.unchanged)?,
            conflicts: Self::open_conflicts(c, &names, a.conflicts)?,
            rejected: refused,
        })
    }

    /// Confirms pushed notes, each with its manifest sealed for the version push answered.
    pub(super) async fn sealed_confirm(
        &self,
        c: &Crypt,
        files: &[FileEntry],
    ) -> Result<ConfirmAnswer> {
        let (names, refused, body) = self.sealed_confirm_entries(c, files);
        let a: SealedConfirmAnswer = self
            .call(
                Op::Confirm,
                Method::POST,
                "/vault/push/confirm",
                Some(&SealedConfirmRequest { files: body }),
            )
            .await?;
        Self::open_confirm_answer(c, &names, refused, a)
    }

    /// The confirm entries of pushed notes (also a bulk confirm's), each manifest sealed
    /// for the version push answered; the names they stand for, and the paths refused.
    pub(super) fn sealed_confirm_entries(
        &self,
        c: &Crypt,
        files: &[FileEntry],
    ) -> (Names, Vec<Rejected>, Vec<SealedConfirmEntry>) {
        let (names, refused) = names_of(c, files.iter().map(|f| &f.path));
        let now = self.clock_ms();
        let mut body = Vec::new();
        for f in files {
            let entry = c.with_sealing(&f.path, |s| {
                let version = s.version?;
                Some(SealedConfirmEntry {
                    path_key: s.path_key.to_hex(),
                    base_version: f.base_version.clone(),
                    version: Number::from(version),
                    blob_id: s.blob.id.to_hex(),
                    content_hash: s.content_hash.clone(),
                    size_bytes: Number::from(s.size),
                    sealed_path: b64(&s.sealed_path),
                    sealed_manifest: b64(&c.seal_manifest(s, version, now)?),
                })
            });
            body.extend(entry.flatten());
        }
        (names, refused, body)
    }

    /// A confirm's (or a bulk confirm's) answer of an encrypted account, in plaintext names.
    pub(super) fn open_confirm_answer(
        c: &Crypt,
        names: &Names,
        refused: Vec<Rejected>,
        a: SealedConfirmAnswer,
    ) -> Result<ConfirmAnswer> {
        let missing = (a.missing.into_iter())
            .map(|m| {
                Ok(Missing {
                    path: named(names, &m.path_key)?,
                    content_hash: m.content_hash,
                    code: m.code,
                })
            })
            .collect::<Result<_>>()?;
        let mut all_refused = refused;
        all_refused.extend(rejected(names, a.rejected));
        Ok(ConfirmAnswer {
            confirmed: Self::open_versioned(c, names, a.confirmed)?,
            conflicts: Self::open_conflicts(c, names, a.conflicts)?,
            missing,
            rejected: all_refused,
        })
    }
}
