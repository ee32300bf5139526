//! Key slots: the VK wrapped by a key-encryption key (KEK), one slot per way in.
//!
//! ```text
//! offset size
//! 0      4    magic "SNSK"
//! 4      1    format version (1)
//! 5      1    kind: 1 = passphrase, 2 = recovery code
//! 6      16   slot id (random)
//! 22     4    key generation of the wrapped VK, u32 BE
//! 26     4    Argon2id m (KiB), u32 BE  } passphrase slots;
//! 30     4    Argon2id t, u32 BE        } all zero in a
//! 34     4    Argon2id p, u32 BE        } recovery-code slot
//! 38     16   salt (random)
//! 54     24   XChaCha20-Poly1305 nonce (random)
//! 78     48   wrapped VK: ciphertext (32) || tag (16)
//! AAD = "steel/v1/slot" || 0x00 || bytes 0..78   (total 126 bytes)
//! ```
//!
//! KEK of a passphrase slot: Argon2id v1.3 (RFC 9106) of the passphrase's NFC UTF-8 bytes
//! with the slot's salt and parameters, 32 bytes out. KEK of a recovery-code slot:
//! `HKDF-SHA-256(salt = slot salt, ikm = the code's 20 bytes, info = "steel/v1/recovery-kek")`.
//! Random bytes are drawn in the order id, salt, nonce.

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::{SecretKey, VaultKey};
use crate::labels;
use crate::recovery::RecoveryCode;
use crate::seal::{self, NONCE_LEN, random};

/// Magic of a key slot.
pub const SLOT_MAGIC: &[u8; 4] = b"SNSK";
/// Length of a key slot.
pub const SLOT_LEN: usize = 126;
const AAD_END: usize = 78;

/// Which secret opens a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotKind {
    Passphrase = 1,
    RecoveryCode = 2,
}

impl SlotKind {
    fn name(self) -> &'static str {
        match self {
            SlotKind::Passphrase => "passphrase",
            SlotKind::RecoveryCode => "recovery-code",
        }
    }
}

/// Argon2id cost parameters, as stored in a passphrase slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// New slots: 64 MiB, 3 passes, 1 lane (RFC 9106's second recommended option is
    /// m = 64 MiB, t = 3, p = 4; one lane because phones and wasm run it on one thread).
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
}

/// What a reader accepts from a slot: componentwise at least `floor`, at most `ceiling`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfPolicy {
    pub floor: KdfParams,
    pub ceiling: KdfParams,
}

impl KdfPolicy {
    /// Floor: m = 19 MiB, t = 2, p = 1, OWASP's minimum Argon2id setting (Password Storage
    /// Cheat Sheet), so a server or backup that rewrites a slot cannot weaken it unnoticed
    /// below that. Ceiling: 1 GiB, 16 passes, 8 lanes, so a hostile slot cannot exhaust a
    /// phone's memory or time.
    pub const DEFAULT: KdfPolicy = KdfPolicy {
        floor: KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        },
        ceiling: KdfParams {
            m_kib: 1024 * 1024,
            t: 16,
            p: 8,
        },
    };

    /// Whether `params` are within this policy.
    pub fn check(&self, params: KdfParams) -> Result<(), CryptoError> {
        let KdfParams { m_kib, t, p } = params;
        let (lo, hi) = (self.floor, self.ceiling);
        if m_kib < lo.m_kib || t < lo.t || p < lo.p {
            return Err(CryptoError::KdfTooWeak { m_kib, t, p });
        }
        if m_kib > hi.m_kib || t > hi.t || p > hi.p {
            return Err(CryptoError::KdfTooCostly { m_kib, t, p });
        }
        Ok(())
    }
}

/// Argon2id v1.3 of the passphrase's NFC form: the 32-byte KEK of a passphrase slot.
pub fn passphrase_kek(
    passphrase: &str,
    salt: &[u8; 16],
    params: KdfParams,
) -> Result<SecretKey, CryptoError> {
    let argon_params = Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|_| CryptoError::malformed("key slot", "invalid Argon2id parameters"))?;
    let nfc = Zeroizing::new(passphrase.nfc().collect::<String>());
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(nfc.as_bytes(), salt, out.as_mut())
        .map_err(|_| CryptoError::malformed("key slot", "invalid Argon2id parameters"))?;
    Ok(SecretKey::from_bytes(*out))
}

/// HKDF-SHA-256 of a recovery code: the KEK of a recovery-code slot.
pub fn recovery_kek(code: &RecoveryCode, salt: &[u8; 16]) -> SecretKey {
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(salt), code.expose())
        .expand(labels::RECOVERY_KEK, okm.as_mut())
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    SecretKey::from_bytes(*okm)
}

/// A key slot, parsed (its fields are public information; only the VK inside is secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySlot {
    pub id: [u8; 16],
    pub kind: SlotKind,
    pub generation: u32,
    /// `None` in a recovery-code slot.
    pub kdf: Option<KdfParams>,
    pub salt: [u8; 16],
    pub nonce: [u8; NONCE_LEN],
    pub wrapped_vk: [u8; 48],
}

impl KeySlot {
    /// A passphrase slot for `vk` (generation `generation`) with Argon2id `params`.
    pub fn seal_passphrase(
        vk: &VaultKey,
        generation: u32,
        passphrase: &str,
        params: KdfParams,
        rng: &mut impl CryptoRng,
    ) -> Result<KeySlot, CryptoError> {
        let (id, salt, nonce) = (random(rng), random(rng), random(rng));
        let kek = passphrase_kek(passphrase, &salt, params)?;
        let slot = Self::header(
            id,
            SlotKind::Passphrase,
            generation,
            Some(params),
            salt,
            nonce,
        );
        Ok(slot.wrap(vk, &kek))
    }

    /// A recovery-code slot for `vk` (generation `generation`).
    pub fn seal_recovery(
        vk: &VaultKey,
        generation: u32,
        code: &RecoveryCode,
        rng: &mut impl CryptoRng,
    ) -> KeySlot {
        let (id, salt, nonce) = (random(rng), random(rng), random(rng));
        let kek = recovery_kek(code, &salt);
        Self::header(id, SlotKind::RecoveryCode, generation, None, salt, nonce).wrap(vk, &kek)
    }

    fn header(
        id: [u8; 16],
        kind: SlotKind,
        generation: u32,
        kdf: Option<KdfParams>,
        salt: [u8; 16],
        nonce: [u8; NONCE_LEN],
    ) -> KeySlot {
        KeySlot {
            id,
            kind,
            generation,
            kdf,
            salt,
            nonce,
            wrapped_vk: [0; 48],
        }
    }

    fn wrap(mut self, vk: &VaultKey, kek: &SecretKey) -> KeySlot {
        let bytes = self.to_bytes();
        let aad = labels::aad(labels::SLOT, &[&bytes[..AAD_END]]);
        let wrapped = seal::aead_seal(kek.expose(), &self.nonce, &aad, vk.expose());
        self.wrapped_vk = wrapped.try_into().expect("32 + 16 bytes");
        self
    }

    fn unwrap(&self, kek: &SecretKey, wrong: CryptoError) -> Result<VaultKey, CryptoError> {
        let bytes = self.to_bytes();
        let aad = labels::aad(labels::SLOT, &[&bytes[..AAD_END]]);
        let vk = seal::aead_open(
            kek.expose(),
            &self.nonce,
            &aad,
            &self.wrapped_vk,
            "key slot",
        )
        .map_err(|_| wrong)?;
        Ok(SecretKey::from_bytes(vk[..].try_into().expect("32 bytes")))
    }

    fn expect_kind(&self, kind: SlotKind) -> Result<(), CryptoError> {
        match self.kind == kind {
            true => Ok(()),
            false => Err(CryptoError::WrongSlotKind {
                actual: self.kind.name(),
            }),
        }
    }

    /// The VK, if `passphrase` opens this slot and its parameters are within `policy`
    /// (checked before any work).
    pub fn open_passphrase(
        &self,
        passphrase: &str,
        policy: &KdfPolicy,
    ) -> Result<VaultKey, CryptoError> {
        self.expect_kind(SlotKind::Passphrase)?;
        let params = (self.kdf).ok_or_else(|| {
            CryptoError::malformed("key slot", "passphrase slot without parameters")
        })?;
        policy.check(params)?;
        let kek = passphrase_kek(passphrase, &self.salt, params)?;
        self.unwrap(&kek, CryptoError::WrongPassphrase)
    }

    /// The VK, if `code` opens this slot (parse the typed code with [`RecoveryCode::parse`],
    /// which catches typos first).
    pub fn open_recovery(&self, code: &RecoveryCode) -> Result<VaultKey, CryptoError> {
        self.expect_kind(SlotKind::RecoveryCode)?;
        self.unwrap(
            &recovery_kek(code, &self.salt),
            CryptoError::WrongRecoveryCode,
        )
    }

    /// The slot's 126 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SLOT_LEN);
        out.extend_from_slice(SLOT_MAGIC);
        out.push(seal::FORMAT_VERSION);
        out.push(self.kind as u8);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.generation.to_be_bytes());
        let KdfParams { m_kib, t, p } = self.kdf.unwrap_or(KdfParams {
            m_kib: 0,
            t: 0,
            p: 0,
        });
        for v in [m_kib, t, p] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.wrapped_vk);
        out
    }

    /// Reads a slot's bytes (no key is used yet).
    pub fn parse(bytes: &[u8]) -> Result<KeySlot, CryptoError> {
        let bad = |why| CryptoError::malformed("key slot", why);
        if bytes.len() != SLOT_LEN {
            return Err(bad("a key slot is 126 bytes"));
        }
        if &bytes[..4] != SLOT_MAGIC || bytes[4] != seal::FORMAT_VERSION {
            return Err(bad("unknown magic or format version"));
        }
        let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4"));
        let params = KdfParams {
            m_kib: u32_at(26),
            t: u32_at(30),
            p: u32_at(34),
        };
        let (kind, kdf) = match bytes[5] {
            1 => (SlotKind::Passphrase, Some(params)),
            2 if params
                == (KdfParams {
                    m_kib: 0,
                    t: 0,
                    p: 0,
                }) =>
            {
                (SlotKind::RecoveryCode, None)
            }
            2 => return Err(bad("a recovery-code slot has no KDF parameters")),
            _ => return Err(bad("unknown slot kind")),
        };
        Ok(KeySlot {
            id: bytes[6..22].try_into().expect("16"),
            kind,
            generation: u32_at(22),
            kdf,
            salt: bytes[38..54].try_into().expect("16"),
            nonce: bytes[54..78].try_into().expect("24"),
            wrapped_vk: bytes[78..126].try_into().expect("48"),
        })
    }
}
