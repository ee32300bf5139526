//! Blob ids (dedup within a vault) and the blob format (a note's content in the bucket).
//!
//! Blob id: `HMAC-SHA-256(dedup key, plaintext)`, 32 bytes, 64 lowercase hex characters.
//!
//! ```text
//! header (100 bytes)
//! offset size
//! 0      4    magic "SNSB"
//! 4      1    format version (1)
//! 5      4    key generation, u32 BE (which wrap key)
//! 9      24   nonce of the wrapped data key (random)
//! 33     48   wrapped data key: XChaCha20-Poly1305(wrap key, nonce, DEK) = ct (32) || tag
//!             AAD = "steel/v1/blob-dek" || 0x00 || header bytes 0..33 || blob id (32)
//! 81     19   STREAM nonce prefix (random)
//! body: the padded plaintext in segments of 65536 bytes (the last one 1..65536 bytes), each
//!       XChaCha20-Poly1305(DEK, nonce = prefix (19) || segment index u32 BE || last (1 or 0))
//!       = ct || tag (16), AAD = "steel/v1/blob-segment" || 0x00 || header (100) || blob id (32)
//! ```
//!
//! The segments are the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár
//! ("BE32" flavour, `aead-stream`): a dropped, duplicated, reordered or truncated segment
//! fails, because the index and the last-segment flag are in every nonce.
//!
//! Padding: ISO/IEC 7816-4 (`0x80` then zeros) to [`padded_len`]: with `n` = length + 1, the
//! next multiple of 256 while `n <= 65536`, above that the next multiple of
//! `2^(bitlen(n) - 5)` (at most 1/16 more, so only the top 5 bits of a large size show).
//! A reader refuses a padded length that is not exactly `padded_len` of the content's.

use std::fmt;

use aead_stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

use crate::error::CryptoError;
use crate::keys::{SecretKey, VaultKeys};
use crate::labels;
use crate::names::hmac_sha256;
use crate::seal::{self, NONCE_LEN, TAG_LEN, random};

/// Magic of a blob.
pub const BLOB_MAGIC: &[u8; 4] = b"SNSB";
/// Length of a blob's header.
pub const HEADER_LEN: usize = 100;
/// Plaintext bytes per STREAM segment.
pub const SEGMENT_LEN: usize = 64 * 1024;
/// Length of the STREAM nonce prefix.
pub const NONCE_PREFIX_LEN: usize = 19;
const WRAP_AAD_END: usize = 33;
const WHAT: &str = "blob";

/// A blob's id: the keyed hash of its plaintext.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// `HMAC-SHA-256(dedup key, plaintext)`.
    pub fn of(keys: &VaultKeys, plaintext: &[u8]) -> BlobId {
        BlobId(hmac_sha256(keys.dedup_key(), plaintext))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(raw: &str) -> Option<BlobId> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(raw, &mut out).ok()?;
        Some(BlobId(out))
    }

    /// Constant-time equality (the blob id is a MAC).
    pub fn ct_eq(&self, other: &BlobId) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.to_hex())
    }
}

/// The padded length of `len` plaintext bytes (see the module documentation).
pub fn padded_len(len: usize) -> usize {
    let n = len + 1;
    let bucket = match n <= SEGMENT_LEN {
        true => 256,
        false => 1 << (usize::BITS - n.leading_zeros() - 5),
    };
    n.div_ceil(bucket) * bucket
}

/// The random inputs of one blob: its data key and the two nonces.
#[derive(Clone, Debug)]
pub struct BlobRandom {
    pub dek: SecretKey,
    pub dek_nonce: [u8; NONCE_LEN],
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl BlobRandom {
    /// Draws the DEK (32 bytes), the DEK nonce (24) and the nonce prefix (19), in that order.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        BlobRandom {
            dek: SecretKey::generate(rng),
            dek_nonce: random(rng),
            nonce_prefix: random(rng),
        }
    }
}

/// An encrypted blob and the id it is stored under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedBlob {
    pub id: BlobId,
    pub bytes: Vec<u8>,
}

/// Encrypts a note's content under the current generation.
pub fn encrypt_blob(keys: &VaultKeys, plaintext: &[u8], rng: &mut impl CryptoRng) -> EncryptedBlob {
    encrypt_blob_with(keys, plaintext, &BlobRandom::generate(rng))
}

fn segment_cipher(dek: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(*dek.expose()))
}

/// [`encrypt_blob`] with the random inputs given (test vectors, other platforms).
pub fn encrypt_blob_with(keys: &VaultKeys, plaintext: &[u8], random: &BlobRandom) -> EncryptedBlob {
    let id = BlobId::of(keys, plaintext);
    let padded = seal::pad(plaintext, padded_len(plaintext.len()));
    let segments = padded.len().div_ceil(SEGMENT_LEN);
    let mut out = Vec::with_capacity(HEADER_LEN + padded.len() + segments * TAG_LEN);
    out.extend_from_slice(BLOB_MAGIC);
    out.push(seal::FORMAT_VERSION);
    out.extend_from_slice(&keys.generation().to_be_bytes());
    out.extend_from_slice(&random.dek_nonce);
    let aad = labels::aad(labels::BLOB_DEK, &[&out[..WRAP_AAD_END], &id.0]);
    let wrap = &keys.current().wrap;
    out.extend_from_slice(&seal::aead_seal(
        wrap.expose(),
        &random.dek_nonce,
        &aad,
        random.dek.expose(),
    ));
    out.extend_from_slice(&random.nonce_prefix);
    debug_assert_eq!(out.len(), HEADER_LEN);
    let aad = labels::aad(labels::BLOB_SEGMENT, &[&out, &id.0]);
    let mut stream =
        EncryptorBE32::from_aead(segment_cipher(&random.dek), &random.nonce_prefix.into());
    let mut chunks = padded.chunks(SEGMENT_LEN).peekable();
    let too_long = "a segment is far below the AEAD's limit";
    while let Some(msg) = chunks.next() {
        let payload = Payload { msg, aad: &aad };
        if chunks.peek().is_some() {
            out.extend_from_slice(&stream.encrypt_next(payload).expect(too_long));
        } else {
            out.extend_from_slice(&stream.encrypt_last(payload).expect(too_long));
            break;
        }
    }
    EncryptedBlob { id, bytes: out }
}

/// The data key of a blob stored under `id`, unwrapped with its generation's wrap key.
pub fn unwrap_dek(keys: &VaultKeys, id: &BlobId, blob: &[u8]) -> Result<SecretKey, CryptoError> {
    if blob.len() < HEADER_LEN + TAG_LEN {
        return Err(CryptoError::malformed(
            WHAT,
            "shorter than a header and one segment",
        ));
    }
    if &blob[..4] != BLOB_MAGIC || blob[4] != seal::FORMAT_VERSION {
        return Err(CryptoError::malformed(
            WHAT,
            "unknown magic or format version",
        ));
    }
    let generation = u32::from_be_bytes(blob[5..9].try_into().expect("4"));
    let wrap = &keys.generation_keys(generation)?.wrap;
    let nonce: [u8; NONCE_LEN] = blob[9..33].try_into().expect("24");
    let aad = labels::aad(labels::BLOB_DEK, &[&blob[..WRAP_AAD_END], &id.0]);
    let dek = seal::aead_open(wrap.expose(), &nonce, &aad, &blob[33..81], "blob data key")?;
    Ok(SecretKey::from_bytes(dek[..].try_into().expect("32")))
}

/// Decrypts a blob stored under `id`: every segment authenticated, the padding canonical and
/// the plaintext's HMAC equal to `id`.
pub fn decrypt_blob(keys: &VaultKeys, id: &BlobId, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let dek = unwrap_dek(keys, id, blob)?;
    let (header, body) = blob.split_at(HEADER_LEN);
    let prefix: [u8; NONCE_PREFIX_LEN] = header[81..].try_into().expect("19");
    let aad = labels::aad(labels::BLOB_SEGMENT, &[header, &id.0]);
    let mut stream = DecryptorBE32::from_aead(segment_cipher(&dek), &prefix.into());
    let mut padded = Vec::with_capacity(body.len());
    let mut chunks = body.chunks(SEGMENT_LEN + TAG_LEN).peekable();
    let failed = |_| CryptoError::Authentication { what: WHAT };
    while let Some(msg) = chunks.next() {
        let payload = Payload { msg, aad: &aad };
        if chunks.peek().is_some() {
            padded.extend_from_slice(&stream.decrypt_next(payload).map_err(failed)?);
        } else {
            padded.extend_from_slice(&stream.decrypt_last(payload).map_err(failed)?);
            break;
        }
    }
    let len = seal::unpad(&padded, WHAT)?.len();
    if padded_len(len) != padded.len() {
        return Err(CryptoError::malformed(
            WHAT,
            "padding longer than its bucket",
        ));
    }
    padded.truncate(len);
    if !BlobId::of(keys, &padded).ct_eq(id) {
        return Err(CryptoError::BlobIdMismatch);
    }
    Ok(padded)
}
