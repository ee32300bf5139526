//! Manifests: per note version, `{path, blob id, size, mtime}`, bound to the note's path key
//! and version so an old manifest cannot be replayed as a new one or under another note.
//!
//! ```text
//! plaintext = path length (u16 BE) || exact-case NFC path || blob id (32)
//!             || size (u64 BE, plaintext bytes) || mtime (i64 BE, ms since the Unix epoch)
//! padded ISO/IEC 7816-4 to a multiple of 32 bytes, then a sealed object (crate::seal)
//! under the generation's metadata key, label "steel/v1/manifest",
//! context = path key (32) || note version (i64 BE)
//! ```

use rand_core::CryptoRng;
use steel_protocol::{VaultPath, Version};

use crate::blob::BlobId;
use crate::error::CryptoError;
use crate::keys::VaultKeys;
use crate::labels;
use crate::names::{PATH_BUCKET, PathKey};
use crate::seal::{self, NONCE_LEN, random};

/// What one version of a note is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub path: VaultPath,
    pub blob_id: BlobId,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Modification time, milliseconds since the Unix epoch.
    pub mtime_ms: i64,
}

const WHAT: &str = "manifest";

fn context(path_key: &PathKey, version: Version) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..32].copy_from_slice(&path_key.0);
    out[32..].copy_from_slice(&version.get().to_be_bytes());
    out
}

impl Manifest {
    /// Seals this manifest as version `version` of its note (24 random nonce bytes).
    pub fn seal(&self, keys: &VaultKeys, version: Version, rng: &mut impl CryptoRng) -> Vec<u8> {
        self.seal_with(keys, version, &random(rng))
    }

    /// [`Manifest::seal`] with the nonce given (test vectors, other platforms).
    pub fn seal_with(
        &self,
        keys: &VaultKeys,
        version: Version,
        nonce: &[u8; NONCE_LEN],
    ) -> Vec<u8> {
        let path = self.path.as_str().as_bytes();
        let len = u16::try_from(path.len()).expect("a vault path is at most 1024 bytes");
        let mut plain = Vec::with_capacity(2 + path.len() + 48);
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(path);
        plain.extend_from_slice(&self.blob_id.0);
        plain.extend_from_slice(&self.size.to_be_bytes());
        plain.extend_from_slice(&self.mtime_ms.to_be_bytes());
        let padded = seal::pad(&plain, seal::bucket_len(plain.len(), PATH_BUCKET));
        let ctx = context(&PathKey::of(keys, &self.path), version);
        let key = &keys.current().meta;
        seal::seal_object(
            labels::MANIFEST,
            key,
            keys.generation(),
            nonce,
            &ctx,
            &padded,
        )
    }

    /// Opens the manifest of version `version` of the note under `path_key`.
    pub fn open(
        keys: &VaultKeys,
        path_key: &PathKey,
        version: Version,
        sealed: &[u8],
    ) -> Result<Manifest, CryptoError> {
        let key = &keys
            .generation_keys(seal::object_generation(sealed, WHAT)?)?
            .meta;
        let ctx = context(path_key, version);
        let padded = seal::open_object(labels::MANIFEST, key, &ctx, sealed, WHAT)?;
        let plain = seal::unpad(&padded, WHAT)?;
        let bad = |why| CryptoError::malformed(WHAT, why);
        let len = usize::from(u16::from_be_bytes(
            plain
                .get(..2)
                .ok_or(bad("too short"))?
                .try_into()
                .expect("2"),
        ));
        if plain.len() != 2 + len + 48 {
            return Err(bad("wrong length"));
        }
        let raw = std::str::from_utf8(&plain[2..2 + len]).map_err(|_| bad("path not UTF-8"))?;
        let path = VaultPath::parse(raw)?;
        if path.as_str() != raw || !PathKey::of(keys, &path).ct_eq(path_key) {
            return Err(bad("path does not match its path key"));
        }
        let rest = &plain[2 + len..];
        Ok(Manifest {
            path,
            blob_id: BlobId(rest[..32].try_into().expect("32")),
            size: u64::from_be_bytes(rest[32..40].try_into().expect("8")),
            mtime_ms: i64::from_be_bytes(rest[40..48].try_into().expect("8")),
        })
    }
}
