//! The vault key, the subkeys HKDF-SHA-256 derives from it, and the keyring that carries
//! generation 0's name and dedup keys (and older generations' keys) across rotations.
//!
//! Subkeys: `HKDF-SHA-256(salt = none, ikm = VK_g, info = label)`, 32 bytes each, labels
//! in [`crate::labels`]. Generation 0 derives the name and dedup keys; every generation `g`
//! derives its own metadata and wrap keys (`info = label || g as u32 BE`) and, for `g > 0`,
//! a keyring key that opens the keyring of generation `g`:
//!
//! ```text
//! keyring plaintext = name key (32) || dedup key (32) || count (u32 BE)
//!                     || count × (generation u32 BE || meta key (32) || wrap key (32))
//! sealed object (crate::seal), label "steel/v1/keyring", generation g, context empty,
//! key HKDF(VK_g, "steel/v1/keyring-key"); entries hold every generation < g, ascending.
//! ```

use std::collections::BTreeMap;
use std::fmt;

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::CryptoError;
use crate::labels;
use crate::seal::{self, random};

/// 32 secret bytes, zeroized on drop, compared in constant time, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }

    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        SecretKey(random(rng))
    }

    /// The raw bytes, for the AEAD and MAC calls and for the test vectors.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The vault key (VK): 32 random bytes, one per key generation. Never leaves a device
/// unwrapped; key slots wrap it.
pub type VaultKey = SecretKey;

fn hkdf(ikm: &SecretKey, info: &[u8]) -> SecretKey {
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::new(None, ikm.expose())
        .expand(info, &mut okm)
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    let key = SecretKey(okm);
    okm.zeroize();
    key
}

/// One generation's metadata key and wrap key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationKeys {
    pub meta: SecretKey,
    pub wrap: SecretKey,
}

impl GenerationKeys {
    /// `HKDF(VK_g, "steel/v1/meta-key" || g)` and `HKDF(VK_g, "steel/v1/wrap-key" || g)`.
    pub fn derive(vk: &VaultKey, generation: u32) -> Self {
        GenerationKeys {
            meta: hkdf(vk, &labels::with_generation(labels::META_KEY, generation)),
            wrap: hkdf(vk, &labels::with_generation(labels::WRAP_KEY, generation)),
        }
    }
}

/// Every key an unlocked vault uses: the current generation (new writes), the name and
/// dedup keys of generation 0, and the metadata and wrap keys of every generation so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultKeys {
    generation: u32,
    pub(crate) name: SecretKey,
    pub(crate) dedup: SecretKey,
    generations: BTreeMap<u32, GenerationKeys>,
}

const KEYRING_ENTRY_LEN: usize = 4 + 32 + 32;

impl VaultKeys {
    /// The keys of a new vault's generation 0.
    pub fn generation0(vk: &VaultKey) -> Self {
        VaultKeys {
            generation: 0,
            name: hkdf(vk, labels::NAME_KEY),
            dedup: hkdf(vk, labels::DEDUP_KEY),
            generations: BTreeMap::from([(0, GenerationKeys::derive(vk, 0))]),
        }
    }

    /// Unlocks generation `generation` from its VK; every generation after 0 needs its keyring.
    pub fn open(
        vk: &VaultKey,
        generation: u32,
        keyring: Option<&[u8]>,
    ) -> Result<Self, CryptoError> {
        let Some(keyring) = keyring else {
            return match generation {
                0 => Ok(Self::generation0(vk)),
                _ => Err(CryptoError::malformed(
                    "keyring",
                    "missing for generation > 0",
                )),
            };
        };
        const WHAT: &str = "keyring";
        if seal::object_generation(keyring, WHAT)? != generation {
            return Err(CryptoError::malformed(
                WHAT,
                "belongs to another generation",
            ));
        }
        let key = hkdf(vk, labels::KEYRING_KEY);
        let plain = seal::open_object(labels::KEYRING, &key, &[], keyring, WHAT)?;
        let bad = |why| CryptoError::malformed(WHAT, why);
        if plain.len() < 68 {
            return Err(bad("too short"));
        }
        let count = u32::from_be_bytes(plain[64..68].try_into().expect("4 bytes")) as usize;
        let entries = &plain[68..];
        if entries.len() != count * KEYRING_ENTRY_LEN {
            return Err(bad("entry count does not match its length"));
        }
        let key32 = |b: &[u8]| SecretKey(b.try_into().expect("32 bytes"));
        let mut generations = BTreeMap::new();
        for entry in entries.chunks_exact(KEYRING_ENTRY_LEN) {
            let g = u32::from_be_bytes(entry[..4].try_into().expect("4 bytes"));
            let ascending = generations.keys().next_back().is_none_or(|&last| g > last);
            if g >= generation || !ascending {
                return Err(bad("generations must ascend and precede the keyring's"));
            }
            let keys = GenerationKeys {
                meta: key32(&entry[4..36]),
                wrap: key32(&entry[36..68]),
            };
            generations.insert(g, keys);
        }
        generations.insert(generation, GenerationKeys::derive(vk, generation));
        Ok(VaultKeys {
            generation,
            name: key32(&plain[..32]),
            dedup: key32(&plain[32..64]),
            generations,
        })
    }

    /// A new generation: a fresh VK, its keys, and its sealed keyring (which carries the name
    /// and dedup keys and every older generation's keys). Path keys and blob ids do not change.
    /// Draws 32 bytes (the new VK) then 24 (the keyring nonce) from `rng`.
    pub fn rotate(&self, rng: &mut impl CryptoRng) -> (VaultKey, VaultKeys, Vec<u8>) {
        let vk = SecretKey::generate(rng);
        let nonce = random(rng);
        let (keys, keyring) = self.rotate_with(&vk, &nonce);
        (vk, keys, keyring)
    }

    /// [`Self::rotate`] with the random inputs given (test vectors, other platforms).
    pub fn rotate_with(&self, vk: &VaultKey, nonce: &[u8; 24]) -> (VaultKeys, Vec<u8>) {
        let generation = self
            .generation
            .checked_add(1)
            .expect("fewer than 2^32 rotations");
        let mut plain = Zeroizing::new(Vec::new());
        plain.extend_from_slice(self.name.expose());
        plain.extend_from_slice(self.dedup.expose());
        plain.extend_from_slice(&(self.generations.len() as u32).to_be_bytes());
        for (g, keys) in &self.generations {
            plain.extend_from_slice(&g.to_be_bytes());
            plain.extend_from_slice(keys.meta.expose());
            plain.extend_from_slice(keys.wrap.expose());
        }
        let key = hkdf(vk, labels::KEYRING_KEY);
        let keyring = seal::seal_object(labels::KEYRING, &key, generation, nonce, &[], &plain);
        let mut generations = self.generations.clone();
        generations.insert(generation, GenerationKeys::derive(vk, generation));
        let keys = VaultKeys {
            generation,
            name: self.name.clone(),
            dedup: self.dedup.clone(),
            generations,
        };
        (keys, keyring)
    }

    /// The generation new objects are written under.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The name key (path keys), the same in every generation.
    pub fn name_key(&self) -> &SecretKey {
        &self.name
    }

    /// The dedup key (blob ids), the same in every generation.
    pub fn dedup_key(&self) -> &SecretKey {
        &self.dedup
    }

    /// The metadata and wrap keys of `generation`.
    pub fn generation_keys(&self, generation: u32) -> Result<&GenerationKeys, CryptoError> {
        self.generations
            .get(&generation)
            .ok_or(CryptoError::UnknownGeneration(generation))
    }

    /// The current generation's keys.
    pub fn current(&self) -> &GenerationKeys {
        &self.generations[&self.generation]
    }
}
