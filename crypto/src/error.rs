//! Why an operation of this crate failed.
//!
//! Authentication failures carry no detail on purpose: a flipped bit, a swapped header, a
//! truncated blob and a wrong key look the same to the AEAD, and telling them apart would
//! only help an attacker. Format errors (a wrong length or magic) are reported before any
//! key is used.

use steel_protocol::ParseError;

/// Every error of `steel-crypto`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The bytes are not an object of the expected format (length, magic, version, field).
    #[error("malformed {what}: {why}")]
    Malformed {
        what: &'static str,
        why: &'static str,
    },
    /// A passphrase slot asks for weaker Argon2id parameters than the reader's floor.
    #[error(
        "key slot's Argon2id parameters (m = {m_kib} KiB, t = {t}, p = {p}) are below the floor"
    )]
    KdfTooWeak { m_kib: u32, t: u32, p: u32 },
    /// A passphrase slot asks for more memory, time or lanes than a device should spend.
    #[error(
        "key slot's Argon2id parameters (m = {m_kib} KiB, t = {t}, p = {p}) are above the ceiling"
    )]
    KdfTooCostly { m_kib: u32, t: u32, p: u32 },
    /// The passphrase does not open this slot (or the slot was altered).
    #[error("wrong passphrase (or the key slot was altered)")]
    WrongPassphrase,
    /// The recovery code is well formed but does not open this slot (or the slot was altered).
    #[error("wrong recovery code (or the key slot was altered)")]
    WrongRecoveryCode,
    /// The recovery code's check characters do not match: a typo, caught before decryption.
    #[error("recovery code has a typo (its check characters do not match)")]
    RecoveryCodeTypo,
    /// The recovery code has the wrong length or a character outside its alphabet.
    #[error("recovery code is not well formed: {0}")]
    RecoveryCodeFormat(&'static str),
    /// The slot is of the other kind (a recovery code offered to a passphrase slot, or back).
    #[error("key slot is a {actual} slot")]
    WrongSlotKind { actual: &'static str },
    /// An AEAD tag did not verify: the object was altered, moved, replayed or truncated.
    #[error("{what} failed authentication (altered, moved, replayed or truncated)")]
    Authentication { what: &'static str },
    /// The blob decrypted, but its plaintext's HMAC is not the blob id it was stored under.
    #[error("blob content does not match its blob id")]
    BlobIdMismatch,
    /// The object was sealed under a key generation this keyring does not hold.
    #[error("unknown key generation {0}")]
    UnknownGeneration(u32),
    /// A path inside a sealed object is not a valid vault path.
    #[error("invalid path: {0}")]
    Path(#[from] ParseError),
}

impl CryptoError {
    pub(crate) fn malformed(what: &'static str, why: &'static str) -> Self {
        CryptoError::Malformed { what, why }
    }
}
