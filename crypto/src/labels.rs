//! Every domain-separation label of the formats, in one place (ASCII, no terminator).
//!
//! HKDF `info` strings derive the subkeys; AEAD labels start the associated data of each
//! object, so a ciphertext of one kind can never be opened as another. A label that takes a
//! key generation is followed by the generation as 4 bytes big-endian.

/// HKDF info of the name key (path keys). Generation 0 only; later generations carry it.
pub const NAME_KEY: &[u8] = b"steel/v1/name-key";
/// HKDF info of the dedup key (blob ids). Generation 0 only; later generations carry it.
pub const DEDUP_KEY: &[u8] = b"steel/v1/dedup-key";
/// HKDF info of a generation's metadata key (encrypted paths, manifests), then `u32` BE.
pub const META_KEY: &[u8] = b"steel/v1/meta-key";
/// HKDF info of a generation's wrap key (blob data keys), then `u32` BE.
pub const WRAP_KEY: &[u8] = b"steel/v1/wrap-key";
/// HKDF info of the key that seals a generation's keyring (from that generation's VK).
pub const KEYRING_KEY: &[u8] = b"steel/v1/keyring-key";
/// HKDF info that stretches a recovery code into its slot's key-encryption key.
pub const RECOVERY_KEK: &[u8] = b"steel/v1/recovery-kek";

/// AEAD label of a key slot.
pub const SLOT: &[u8] = b"steel/v1/slot";
/// AEAD label of a keyring.
pub const KEYRING: &[u8] = b"steel/v1/keyring";
/// AEAD label of an encrypted path.
pub const PATH: &[u8] = b"steel/v1/path";
/// AEAD label of a manifest.
pub const MANIFEST: &[u8] = b"steel/v1/manifest";
/// AEAD label of a blob's wrapped data key.
pub const BLOB_DEK: &[u8] = b"steel/v1/blob-dek";
/// AEAD label of every STREAM segment of a blob.
pub const BLOB_SEGMENT: &[u8] = b"steel/v1/blob-segment";

/// The associated data `label || 0x00 || parts...` (the zero byte ends the label).
pub(crate) fn aad(label: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let len = label.len() + 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(label);
    out.push(0);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// `label || generation as u32 BE`, the HKDF info of a per-generation key.
pub(crate) fn with_generation(label: &[u8], generation: u32) -> Vec<u8> {
    let mut out = label.to_vec();
    out.extend_from_slice(&generation.to_be_bytes());
    out
}
