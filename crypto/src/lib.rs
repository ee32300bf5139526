//! The cryptography of end-to-end encrypted vaults, defined once: the reference client, the
//! app bindings and any other platform share these formats bit for bit
//! (`crypto/test-vectors/*.json` pins every one; the README's section "End-to-end
//! encryption: keys and formats" describes them).
//!
//! - [`keys`]: the vault key (VK), subkeys by HKDF-SHA-256, the keyring across rotations.
//! - [`slot`]: key slots (passphrase via Argon2id, recovery code via HKDF) wrapping the VK.
//! - [`recovery`]: the recovery code and its check characters.
//! - [`names`]: path keys (`HMAC(name key, case key)`) and encrypted paths.
//! - [`blob`]: blob ids and the blob format (header + XChaCha20-Poly1305 STREAM segments).
//! - [`manifest`]: per-version `{path, blob id, size, mtime}`, bound to path key and version.
//! - [`seal`] and [`labels`]: the envelope of small objects, the padding, the labels.
//!
//! No I/O, no async, no `unsafe`, no OS randomness: every function that needs random bytes
//! takes a `rand_core::CryptoRng` (the OS RNG on devices, a seeded one in tests), and has a
//! `*_with` twin taking those bytes, so other platforms can reproduce the vectors exactly.

pub mod blob;
pub mod error;
pub mod keys;
pub mod labels;
pub mod manifest;
pub mod names;
pub mod recovery;
pub mod seal;
pub mod slot;

#[cfg(test)]
mod tests;

pub use blob::{BlobId, BlobRandom, EncryptedBlob, decrypt_blob, encrypt_blob, encrypt_blob_with};
pub use error::CryptoError;
pub use keys::{GenerationKeys, SecretKey, VaultKey, VaultKeys};
pub use manifest::Manifest;
pub use names::{PathKey, open_path, seal_path, seal_path_with};
pub use recovery::RecoveryCode;
pub use slot::{KdfParams, KdfPolicy, KeySlot, SlotKind};
