//! XChaCha20-Poly1305 as every small object uses it, the sealed-object envelope, and the
//! ISO/IEC 7816-4 padding (`0x80` then zeros) that hides exact lengths.
//!
//! Sealed object (keyring, encrypted path, manifest):
//!
//! ```text
//! offset size
//! 0      1    format version (1)
//! 1      4    key generation, u32 big-endian
//! 5      24   XChaCha20-Poly1305 nonce (random)
//! 29     n+16 ciphertext || tag
//! AAD = label || 0x00 || bytes 0..5 || context (the object's own binding)
//! ```

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::SecretKey;
use crate::labels;

/// XChaCha20-Poly1305 nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// The format version byte of every object this crate writes.
pub const FORMAT_VERSION: u8 = 1;
/// Length of a sealed object's header (version + generation + nonce).
pub const SEALED_HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

pub(crate) fn random<const N: usize>(rng: &mut impl CryptoRng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(*key))
}

/// XChaCha20-Poly1305 encryption: `ciphertext || tag`.
pub(crate) fn aead_seal(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    msg: &[u8],
) -> Vec<u8> {
    cipher(key)
        .encrypt(&XNonce::from(*nonce), Payload { msg, aad })
        .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB")
}

/// XChaCha20-Poly1305 decryption; `what` names the object in the error.
pub(crate) fn aead_open(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    cipher(key)
        .decrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Authentication { what })
}

/// Seals `plaintext` as a sealed object of `generation` under `key`.
pub(crate) fn seal_object(
    label: &[u8],
    key: &SecretKey,
    generation: u32,
    nonce: &[u8; NONCE_LEN],
    context: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEALED_HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(nonce);
    let aad = labels::aad(label, &[&out[..5], context]);
    out.extend_from_slice(&aead_seal(key.expose(), nonce, &aad, plaintext));
    out
}

/// The key generation a sealed object names (read before choosing the key).
pub(crate) fn object_generation(sealed: &[u8], what: &'static str) -> Result<u32, CryptoError> {
    if sealed.len() < SEALED_HEADER_LEN + TAG_LEN {
        return Err(CryptoError::malformed(what, "too short"));
    }
    if sealed[0] != FORMAT_VERSION {
        return Err(CryptoError::malformed(what, "unknown format version"));
    }
    Ok(u32::from_be_bytes(
        sealed[1..5].try_into().expect("4 bytes"),
    ))
}

/// Opens a sealed object with the key of the generation it names.
pub(crate) fn open_object(
    label: &[u8],
    key: &SecretKey,
    context: &[u8],
    sealed: &[u8],
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    object_generation(sealed, what)?;
    let nonce: [u8; NONCE_LEN] = sealed[5..SEALED_HEADER_LEN].try_into().expect("24 bytes");
    let aad = labels::aad(label, &[&sealed[..5], context]);
    aead_open(
        key.expose(),
        &nonce,
        &aad,
        &sealed[SEALED_HEADER_LEN..],
        what,
    )
}

/// ISO/IEC 7816-4 padding: `data || 0x80 || 0x00...` to exactly `padded_len` bytes.
pub(crate) fn pad(data: &[u8], padded_len: usize) -> Zeroizing<Vec<u8>> {
    assert!(padded_len > data.len(), "padding needs at least one byte");
    let mut out = Zeroizing::new(Vec::with_capacity(padded_len));
    out.extend_from_slice(data);
    out.push(0x80);
    out.resize(padded_len, 0);
    out
}

/// `data.len() + 1` rounded up to a multiple of `bucket`.
pub(crate) fn bucket_len(len: usize, bucket: usize) -> usize {
    (len + 1).div_ceil(bucket) * bucket
}

/// Removes ISO/IEC 7816-4 padding: the last non-zero byte must be `0x80`.
pub(crate) fn unpad<'a>(padded: &'a [u8], what: &'static str) -> Result<&'a [u8], CryptoError> {
    match padded.iter().rposition(|&b| b != 0) {
        Some(at) if padded[at] == 0x80 => Ok(&padded[..at]),
        _ => Err(CryptoError::malformed(what, "bad padding")),
    }
}
