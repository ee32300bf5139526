//! An encrypted vault's downloads: what the bytes of each version a pull answered (or a
//! state listing named) must be, and their opening, exactly as README "Encrypted notes on
//! the server" says: the SHA-256 of the ciphertext, AEAD, blob id and size, before the
//! engine sees a byte ([`crate::crypt::open_blob`]), whether the bytes came from the
//! version's own URL or from a pack.

use super::{Api, Download};
use crate::crypt::{Crypt, Expected};
use crate::error::{Result, SyncError};

impl Api {
    /// Downloads the bytes of a pulled version and checks them: plaintext and its hash.
    pub(super) async fn sealed_fetch(
        &self,
        c: &Crypt,
        file: &Download,
    ) -> Result<(Vec<u8>, String)> {
        let ciphertext = self.download(&file.download_url).await?;
        Self::open_stored_with(c, file, &ciphertext)
    }

    /// The SHA-256 (hex) of what an encrypted vault stores for `file`, a download a pull
    /// answered (what packs index); `None` on a plaintext vault, whose packs index the
    /// content hash the answer names.
    pub fn stored_hash(&self, file: &Download) -> Option<String> {
        (self.crypt.as_ref()?).stored_hash(&file.download_url, file.path.as_str())
    }

    /// Opens the stored bytes of an encrypted vault's `file` fetched another way than its
    /// own URL (from a pack): the plaintext and its hash, checked exactly as a GET of the
    /// URL is ([`Api::fetch_checked`]).
    pub fn open_stored(&self, file: &Download, stored: &[u8]) -> Result<(Vec<u8>, String)> {
        let c = self.crypt.as_ref().ok_or_else(|| {
            SyncError::Other("open_stored is for end-to-end encrypted vaults".into())
        })?;
        Self::open_stored_with(c, file, stored)
    }

    fn open_stored_with(c: &Crypt, file: &Download, stored: &[u8]) -> Result<(Vec<u8>, String)> {
        let expected = c
            .expected(&file.download_url, file.path.as_str())
            .ok_or_else(|| {
                SyncError::Other(format!("{}: no pull answered this download", file.path))
            })?;
        Self::open_expected(c, &expected, stored)
    }

    fn open_expected(c: &Crypt, expected: &Expected, stored: &[u8]) -> Result<(Vec<u8>, String)> {
        let plain = crate::crypt::open_blob(c.keys(), expected, stored)?;
        let hash = crate::scan::hash_bytes(&plain);
        c.learn(&expected.opened.manifest.blob_id, &hash);
        Ok((plain, hash))
    }

    /// What the bytes of `version` of `path` must be, when the last state listing of this
    /// encrypted vault named that version (its sealed fields, opened, and the stored hash):
    /// enough to fetch it through packs without a pull.
    pub fn listed_sealed(&self, path: &str, version: i64) -> Option<Expected> {
        self.crypt.as_ref()?.listed(path, version)
    }

    /// A new state listing begins (see [`Api::listed_sealed`]).
    pub fn forget_listed(&self) {
        if let Some(c) = &self.crypt {
            c.forget_listed();
        }
    }

    /// The plaintext of stored bytes fetched for `expected` (from a pack), and its hash,
    /// checked exactly as a GET of the version's URL is.
    pub fn open_listed(&self, expected: &Expected, stored: &[u8]) -> Result<(Vec<u8>, String)> {
        let c = self.crypt.as_ref().ok_or_else(|| {
            SyncError::Other("open_listed is for end-to-end encrypted vaults".into())
        })?;
        Self::open_expected(c, expected, stored)
    }
}
