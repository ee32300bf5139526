//! Encrypted seeds (issues 26 and 28): every [`Rates::encrypted_every`]th seed's account is
//! end-to-end encrypted. The first device sets it up with the client's own path
//! (`slots::new_vault`, then `vault_key::set_up`: `PUT /vault/keys` on the model server),
//! every device, the first included, and every device joining later unlocks it with the
//! passphrase or the recovery code (`vault_key::unlock`: `GET /vault/keys`, then the slot
//! opened), and syncs through a `Crypt` whose nonces and blob keys come from the seed
//! (`Crypt::with_rng`). A device restarting after a crash keeps its unlocked key (the OS
//! keyring of a real device) and opens a new `Crypt` on the same `sync.db`.
//!
//! The oracle is the test harness, so it holds the vault's keys: [`open_version`] opens what
//! the server stores for a version (its sealed path and manifest, and its blob) as a device
//! would, so the invariants read plaintext names and lines; and [`leaks`] checks that
//! nothing the server stores names a note or holds a line of one in the clear.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng as _;
use rand_chacha::{ChaCha8Rng, ChaCha20Rng};
use steel_core::domain::{ContentHash, VaultPath};
use steel_crypto::{KdfParams, KdfPolicy, RecoveryCode, VaultKeys};
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::{Key32, Sealed, SealedBytes};
use steel_sync::crypt::{Crypt, Expected, open_blob, open_sealed};
use steel_sync::store::Store;
use steel_sync::vault_key::{self, Secret, slots};

use crate::model::Server;
use crate::person::{FOLDERS, tokens};

/// The person's passphrase (every encrypted seed's).
pub const PASSPHRASE: &str = "simulated passphrase";

/// The vault's secrets, as the person keeps them.
pub struct Vault {
    pub keys: VaultKeys,
    pub code: RecoveryCode,
}

/// Whether `seed` runs an encrypted account, one in `every` (never when 0).
pub fn is_encrypted(seed: u64, every: u64) -> bool {
    every > 0 && seed.is_multiple_of(every)
}

/// The cheapest Argon2id cost every reader accepts (the floor): the passphrase slot is
/// sealed and opened with it.
fn kdf() -> KdfParams {
    KdfPolicy::DEFAULT.floor
}

/// The slots of a new vault, drawn from the seed: the first `PUT /vault/keys`.
pub fn new_vault(seed: u64) -> slots::NewVault {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x0e2e_e0e2);
    slots::new_vault(PASSPHRASE, kdf(), &mut rng).expect("a long enough passphrase")
}

/// Sets the account up through `api` (the first device's), as `steel-sync encrypt` does.
pub async fn set_up(api: &steel_sync::Api, new: &slots::NewVault) -> Result<(), String> {
    vault_key::set_up(api, new)
        .await
        .map(|_| ())
        .map_err(|e| format!("setting the vault up failed: {e}"))
}

/// Unlocks the vault on a device, with the passphrase or the recovery code.
pub async fn unlock(
    api: &steel_sync::Api,
    vault: &Vault,
    passphrase: bool,
) -> Result<VaultKeys, String> {
    let secret = if passphrase {
        Secret::Passphrase(PASSPHRASE)
    } else {
        Secret::RecoveryCode(&vault.code)
    };
    let unlocked = vault_key::unlock(api, &secret)
        .await
        .map_err(|e| format!("unlocking the vault failed: {e}"))?;
    if unlocked.keys != vault.keys {
        return Err("the unlocked keys are not the vault's".into());
    }
    Ok(unlocked.keys)
}

/// A name for a device's in-memory `sync.db` no other store of the process has.
pub fn store_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("steel-sim-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A device's `sync.db`: shared in memory under `name` when its vault is encrypted (the
/// `Crypt` opens a second connection), private otherwise.
pub fn open_store(name: Option<&str>) -> Store {
    match name {
        Some(n) => Store::in_memory_shared(n),
        None => Store::in_memory(),
    }
    .expect("an in-memory sync.db")
}

/// The `Crypt` of a device, on its `sync.db`, with nonces drawn from `rng_seed`.
pub fn crypt(keys: &VaultKeys, store: &str, rng_seed: u64) -> Arc<Crypt> {
    let rng = ChaCha20Rng::seed_from_u64(rng_seed);
    Arc::new(Crypt::with_rng(
        keys.clone(),
        Some(open_store(Some(store))),
        rng,
    ))
}

/// A seed for a device's next `Crypt`, from the world's draws.
pub fn crypt_seed(rng: &mut ChaCha8Rng) -> u64 {
    rand::RngExt::random(rng)
}

/// The sealed fields the server keeps for a version, in wire form.
fn wire(server: &Server, path: &VaultPath, version: i64) -> Option<Sealed> {
    let s = server.sealed.get(&(path.clone(), version))?;
    Some(Sealed {
        sealed_path: SealedBytes::new(s.sealed_path.clone())?,
        sealed_manifest: SealedBytes::new(s.sealed_manifest.clone())?,
        manifest_version: s.manifest_version,
        blob_id: Key32::parse_as(&s.blob_id, ErrorCode::InvalidBlobId, "blob_id").ok()?,
    })
}

/// Opens version `version` of the note the server keeps under `path` (a path key's hex)
/// whose stored blob is `hash`: its plaintext path and, when `bytes` are given (the
/// stored ciphertext), its plaintext, both checked as a device checks them.
pub fn open_version(
    keys: &VaultKeys,
    server: &Server,
    path: &VaultPath,
    version: i64,
    hash: ContentHash,
    bytes: Option<&[u8]>,
) -> Result<(String, Option<Vec<u8>>), String> {
    let key =
        Key32::parse_as(path.as_str(), ErrorCode::InvalidPathKey, "path_key").map_err(|_| {
            format!("{path} v{version}: an encrypted account's note under a plaintext path")
        })?;
    let sealed = wire(server, path, version);
    let opened = open_sealed(keys, &key, version, sealed.as_ref())
        .map_err(|e| format!("{path} v{version}: its sealed fields do not open: {e}"))?;
    let name = opened.path.as_str().to_owned();
    let Some(bytes) = bytes else {
        return Ok((name, None));
    };
    let expected = Expected {
        opened,
        content_hash: hash,
    };
    let plain = open_blob(keys, &expected, bytes)
        .map_err(|e| format!("{name} v{version}: its blob does not open: {e}"))?;
    Ok((name, Some(plain)))
}

/// The server's live notes as a device sees them: plaintext path → plaintext bytes
/// (empty when the blob is missing or does not open; the oracle reports that itself).
pub fn live_notes(server: &Server, keys: Option<&VaultKeys>) -> BTreeMap<String, Vec<u8>> {
    let mut live = BTreeMap::new();
    for f in server.files.values().filter(|f| !f.is_deleted) {
        let stored = server.bucket.get(&f.content_hash);
        let (name, bytes) = match keys {
            None => (f.path.to_string(), stored.cloned()),
            Some(keys) => match stored {
                Some(b) => open_version(keys, server, &f.path, f.version, f.content_hash, Some(b))
                    .map_or((f.path.to_string(), None), |(n, p)| (n, p)),
                None => open_version(keys, server, &f.path, f.version, f.content_hash, None)
                    .map_or((f.path.to_string(), None), |(n, _)| (n, None)),
            },
        };
        live.insert(name, bytes.unwrap_or_default());
    }
    live
}

/// The plaintext path of the note the server keeps under `path` (itself for a plaintext
/// account), from its newest version.
pub fn name_of(server: &Server, keys: Option<&VaultKeys>, path: &VaultPath) -> Option<String> {
    let Some(keys) = keys else {
        return Some(path.to_string());
    };
    let row = server.files.get(path)?;
    open_version(keys, server, path, row.version, row.content_hash, None)
        .ok()
        .map(|(n, _)| n)
}

/// What the server stores of an encrypted account that is not opaque: a note kept under
/// something other than a path key, or a stored object, sealed field or pack holding a
/// line people wrote or a note's name in the clear.
pub fn leaks(server: &Server, acked: &HashSet<String>) -> Option<String> {
    let is_key =
        |p: &VaultPath| Key32::parse_as(p.as_str(), ErrorCode::InvalidPathKey, "path_key").is_ok();
    if let Some(p) = (server.files.keys())
        .chain(server.history.iter().map(|h| &h.path))
        .find(|p| !is_key(p))
    {
        return Some(format!(
            "the server keeps a note of the encrypted account under {p}"
        ));
    }
    // Every note's path starts with its folder: 9 or more bytes no ciphertext holds by
    // chance.
    let folders: Vec<String> = FOLDERS.iter().map(|f| format!("{f}/")).collect();
    let holds_name =
        |b: &[u8]| (folders.iter()).any(|f| b.windows(f.len()).any(|w| w == f.as_bytes()));
    let sealed = (server.sealed.values())
        .flat_map(|s| [s.sealed_path.as_slice(), s.sealed_manifest.as_slice()]);
    let objects = (server.bucket.values().map(Vec::as_slice))
        .chain(server.packs.values().map(|p| p.bytes.as_slice()))
        .chain(sealed);
    for bytes in objects {
        if let Some(t) = tokens(bytes).find(|t| acked.contains(*t)) {
            return Some(format!(
                "the server stores the line {t} of a note in the clear"
            ));
        }
        if holds_name(bytes) {
            return Some("the server stores a note's name in the clear".into());
        }
    }
    None
}

impl crate::world::World {
    /// An API client of device `id` with the world's network, and no `Crypt`: the one the
    /// key-slot commands use.
    pub(crate) fn bare_api(
        &self,
        slot: usize,
        id: steel_core::domain::DeviceId,
    ) -> steel_sync::Api {
        let time = self.shared().time.clone();
        let clock = Arc::new(crate::disk::SkewedClock {
            world: time,
            skew: chrono::TimeDelta::zero(),
        });
        let net = crate::net::SimNet {
            shared: self.shared.clone(),
            device: slot,
            device_id: id,
            disk: Arc::new(crate::disk::MemDisk::new("keys", clock)),
            crashed: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        steel_sync::Api::over(Arc::new(net), crate::world::session(id, "keys"), None)
    }

    /// Runs `f` with the network's faults off (the person runs a key command until it
    /// works).
    pub(crate) fn calmly<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        let on = std::mem::replace(&mut self.shared().faults_on, false);
        let out = self.rt.block_on(f);
        self.shared().faults_on = on;
        out
    }

    /// The first device makes the account end-to-end encrypted with the seed's slots.
    pub fn set_up_vault(&mut self) {
        let new = new_vault(self.seed);
        let id = self.first_device_id();
        let api = self.bare_api(0, id);
        let done = self.calmly(set_up(&api, &new));
        let keys = VaultKeys::generation0(&new.vk);
        let mut shared = self.shared();
        shared.log("-- an end-to-end encrypted account: D0 sets up its key slots".into());
        if let Err(e) = done {
            shared.oracle.failure.get_or_insert(e);
        }
        shared.oracle.vault = Some(keys.clone());
        shared.vault = Some(Vault {
            keys,
            code: new.code,
        });
    }

    /// A device's unlock of an encrypted vault (passphrase or recovery code, drawn), and
    /// the name of its `sync.db`; `None` for a plaintext account.
    pub fn unlock(
        &self,
        slot: usize,
        device: &crate::world::Device,
    ) -> Option<(VaultKeys, String)> {
        let (vault, passphrase) = {
            let mut shared = self.shared();
            let vault = shared.vault.as_ref().map(|v| Vault {
                keys: v.keys.clone(),
                code: v.code.clone(),
            })?;
            let passphrase = rand::RngExt::random_bool(&mut shared.crypt_rng, 0.25);
            (vault, passphrase)
        };
        let api = self.bare_api(slot, device.id);
        let keys = match self.calmly(unlock(&api, &vault, passphrase)) {
            Ok(keys) => keys,
            Err(e) => {
                self.shared()
                    .oracle
                    .failure
                    .get_or_insert(format!("D{slot}: {e}"));
                vault.keys
            }
        };
        let how = if passphrase {
            "passphrase"
        } else {
            "recovery code"
        };
        self.log(format!("    D{slot} unlocks the vault with the {how}"));
        Some((keys, store_name()))
    }
}
