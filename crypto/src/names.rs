//! Path keys (what the server indexes) and encrypted paths (what it stores).
//!
//! - Path key: `HMAC-SHA-256(name key, UTF-8 of VaultPath::case_key())`, 32 bytes, sent as
//!   64 lowercase hex characters. The case key is `steel_protocol`'s, the one the server
//!   uses for plaintext vaults, so case twins and NFC/NFD twins collide exactly as today.
//! - Encrypted path: the exact-case NFC path, ISO/IEC 7816-4 padded (`0x80` then zeros) to
//!   the next multiple of 32 bytes (at least one padding byte), as a sealed object
//!   (crate::seal) under the generation's metadata key, label `"steel/v1/path"`, context =
//!   the path key's 32 bytes.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::Sha256;
use steel_protocol::VaultPath;
use subtle::ConstantTimeEq;

use crate::error::CryptoError;
use crate::keys::{SecretKey, VaultKeys};
use crate::labels;
use crate::seal::{self, NONCE_LEN, random};

/// Padding bucket of an encrypted path, in bytes.
pub const PATH_BUCKET: usize = 32;

pub(crate) fn hmac_sha256(key: &SecretKey, data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The keyed hash of a path's case key: equal for paths that collide, unlinkable otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathKey(pub [u8; 32]);

impl PathKey {
    /// `HMAC-SHA-256(name key, case key)`.
    pub fn of(keys: &VaultKeys, path: &VaultPath) -> PathKey {
        PathKey(hmac_sha256(keys.name_key(), path.case_key().as_bytes()))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(raw: &str) -> Option<PathKey> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(raw, &mut out).ok()?;
        Some(PathKey(out))
    }

    /// Constant-time equality (the path key is a MAC).
    pub fn ct_eq(&self, other: &PathKey) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for PathKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathKey({})", self.to_hex())
    }
}

/// Seals `path` under the current generation's metadata key (24 random nonce bytes).
pub fn seal_path(keys: &VaultKeys, path: &VaultPath, rng: &mut impl CryptoRng) -> Vec<u8> {
    seal_path_with(keys, path, &random(rng))
}

/// [`seal_path`] with the nonce given (test vectors, other platforms).
pub fn seal_path_with(keys: &VaultKeys, path: &VaultPath, nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let raw = path.as_str().as_bytes();
    let padded = seal::pad(raw, seal::bucket_len(raw.len(), PATH_BUCKET));
    let key = &keys.current().meta;
    let context = PathKey::of(keys, path).0;
    seal::seal_object(
        labels::PATH,
        key,
        keys.generation(),
        nonce,
        &context,
        &padded,
    )
}

/// Opens an encrypted path stored under `path_key`; the path must hash to that key.
pub fn open_path(
    keys: &VaultKeys,
    path_key: &PathKey,
    sealed: &[u8],
) -> Result<VaultPath, CryptoError> {
    const WHAT: &str = "encrypted path";
    let key = &keys
        .generation_keys(seal::object_generation(sealed, WHAT)?)?
        .meta;
    let padded = seal::open_object(labels::PATH, key, &path_key.0, sealed, WHAT)?;
    if padded.len() % PATH_BUCKET != 0 {
        return Err(CryptoError::malformed(WHAT, "not padded to 32 bytes"));
    }
    let raw = std::str::from_utf8(seal::unpad(&padded, WHAT)?)
        .map_err(|_| CryptoError::malformed(WHAT, "not UTF-8"))?;
    let path = VaultPath::parse(raw)?;
    if path.as_str() != raw || !PathKey::of(keys, &path).ct_eq(path_key) {
        return Err(CryptoError::malformed(WHAT, "does not match its path key"));
    }
    Ok(path)
}
