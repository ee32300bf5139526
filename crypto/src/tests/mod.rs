//! The crate's tests: round trips, the tamper matrix, property tests and the test vectors.
//! Unit tests (not `tests/`) so the vectors can record the random inputs a format consumed.

mod props;
mod roundtrip;
mod tamper;
mod vectors;
mod vectors_gen;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use steel_protocol::VaultPath;

use crate::keys::{SecretKey, VaultKeys};
use crate::slot::{KdfParams, KdfPolicy};

/// A seeded ChaCha20 RNG: the tests' and the vectors' only source of randomness.
pub(crate) fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Cheap Argon2id parameters for tests (the vectors also pin the defaults once).
pub(crate) const FAST: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// A policy that admits [`FAST`] and caps cost low, so a flipped parameter bit cannot make
/// a test allocate gigabytes.
pub(crate) const TEST_POLICY: KdfPolicy = KdfPolicy {
    floor: FAST,
    ceiling: KdfParams {
        m_kib: 4096,
        t: 4,
        p: 2,
    },
};

/// The vault key 00 01 02 .. 1f.
pub(crate) fn fixed_vk() -> SecretKey {
    SecretKey::from_bytes(std::array::from_fn(|i| i as u8))
}

pub(crate) fn keys() -> VaultKeys {
    VaultKeys::generation0(&fixed_vk())
}

pub(crate) fn path(raw: &str) -> VaultPath {
    VaultPath::parse(raw).expect("valid test path")
}

/// `byte i = i mod 251`: the content of the large vectors, regenerated rather than stored.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Every single-bit flip of `bytes`.
pub(crate) fn bit_flips(bytes: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..bytes.len() * 8).map(move |bit| {
        let mut out = bytes.to_vec();
        out[bit / 8] ^= 1 << (bit % 8);
        out
    })
}
