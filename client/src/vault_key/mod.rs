//! End-to-end encryption on the device: setting a vault's keys up, unlocking it with the
//! passphrase or the recovery code, changing the passphrase, replacing the recovery code
//! (README "End-to-end encryption: keys and formats", "Key slots API"). The slot logic is
//! pure ([`slots`]); [`store`] keeps the unlocked key; this module reads and writes the
//! account's slots, redoing a change on a fresh read when another device wrote meanwhile.

pub mod migrate;
pub mod slots;
pub mod store;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use steel_crypto::{KdfParams, KdfPolicy, KeySlot, RecoveryCode};
use steel_protocol::wire::{KeysAnswer, PutKeysRequest};

pub use slots::{MIN_PASSPHRASE_CHARS, NewVault, Secret, Unlocked};

use crate::api::Api;
use crate::error::{Result, SyncError};

/// How many times a slot change is redone after another device changed the slots between
/// this device's read and its write (412).
const STALE_RETRIES: usize = 3;

/// A CSPRNG seeded from the operating system, for keys, salts and nonces.
pub fn os_rng() -> Result<ChaCha20Rng> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut())
        .map_err(|e| SyncError::Other(format!("the system's random source failed: {e}")))?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

/// The Argon2id cost of new passphrase slots: the crypto crate's default.
/// `STEEL_KDF_MEMORY_KIB` lowers the memory for tests and slow machines, never below the
/// floor every reader enforces (19 MiB).
pub fn kdf_params() -> KdfParams {
    let floor = KdfPolicy::DEFAULT.floor;
    match std::env::var("STEEL_KDF_MEMORY_KIB")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        Some(m_kib) => KdfParams {
            m_kib: m_kib.clamp(floor.m_kib, KdfParams::DEFAULT.m_kib),
            t: floor.t,
            p: 1,
        },
        None => KdfParams::DEFAULT,
    }
}

/// Reads the account's slots, refusing an answer that is not this account's kind of answer.
pub async fn read(api: &Api) -> Result<KeysAnswer> {
    api.keys().await
}

/// Makes the account end-to-end encrypted with `new` (from [`slots::new_vault`]); refused if
/// it already is (another device got there first: unlock instead).
pub async fn set_up(api: &Api, new: &NewVault) -> Result<KeysAnswer> {
    let current = api.keys().await?;
    if current.encrypted {
        return Err(SyncError::Other(
            "this account is already end-to-end encrypted: run `steel-sync unlock`".into(),
        ));
    }
    api.put_keys(&current.etag, &new.request).await
}

/// Opens the account's vault with `secret`.
pub async fn unlock(api: &Api, secret: &Secret<'_>) -> Result<Unlocked> {
    let answer = api.keys().await?;
    slots::unlock(&answer, secret, &KdfPolicy::DEFAULT)
}

/// Applies `change` to the account's slots: read, change, write with `If-Match`; on 412
/// (another device wrote meanwhile) read again and redo it, a few times.
async fn update(
    api: &Api,
    change: impl Fn(&KeysAnswer) -> Result<PutKeysRequest>,
) -> Result<KeysAnswer> {
    let mut tries = 0;
    loop {
        let answer = api.keys().await?;
        let request = change(&answer)?;
        match api.put_keys(&answer.etag, &request).await {
            Err(SyncError::Api { status: 412, .. }) if tries < STALE_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// Changes the passphrase: `current` (the old passphrase or the recovery code) opens the
/// vault, and one new passphrase slot replaces the old one. Nothing else is uploaded.
pub async fn change_passphrase(api: &Api, current: &Secret<'_>, new: &str) -> Result<Unlocked> {
    slots::check_passphrase(new)?;
    let unlocked = unlock(api, current).await?;
    let mut rng = os_rng()?;
    let slot = KeySlot::seal_passphrase(
        &unlocked.vk,
        unlocked.generation,
        new,
        kdf_params(),
        &mut rng,
    )?;
    update(api, |answer| Ok(slots::replace_kind(answer, &slot))).await?;
    Ok(unlocked)
}

/// Replaces the recovery code with `code` (shown to the person, and confirmed, before
/// this): `current` opens the vault, the new code's slot replaces the old one, which stops
/// working.
pub async fn replace_recovery_code(
    api: &Api,
    current: &Secret<'_>,
    code: &RecoveryCode,
) -> Result<Unlocked> {
    let unlocked = unlock(api, current).await?;
    let mut rng = os_rng()?;
    let slot = KeySlot::seal_recovery(&unlocked.vk, unlocked.generation, code, &mut rng);
    update(api, |answer| Ok(slots::replace_kind(answer, &slot))).await?;
    Ok(unlocked)
}
