//! Migration seeds (issue 26): every [`Rates::migrate_every`]th seed that is not encrypted
//! from the start starts plaintext, and a share of its sync ops ([`Rates::migrate`], a
//! draw of each op's own) are a person running `steel-sync encrypt` on that device
//! instead: the first one sets the slots up (`POST /vault/migration`) and runs the client's
//! own migration (`vault_key::migrate`: stage every missing note encrypted, then switch)
//! through the device's faulty network, so it may stop anywhere or crash the device; a
//! later one unlocks the slots with the passphrase and runs it again (it resumes from what
//! the server kept), or the person abandons it (`DELETE /vault/migration`). Meanwhile the
//! other devices edit and sync in plaintext. Once the switch commits, the oracle opens what
//! the server keeps with the vault's keys (the switch's copies are not new content), every
//! plaintext device is refused (`Locked`, or 409 `vault_encrypted`) and its person unlocks
//! it with the passphrase on the same `sync.db`; and at quiescence, after the janitor's
//! collection deletes the plaintext blobs, nothing the server stores may name a note or
//! hold a line of one in the clear (`vault::leaks`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::{RngExt, SeedableRng};
use rand_chacha::{ChaCha8Rng, ChaCha20Rng};
use steel_core::vault::migration::Mode;
use steel_crypto::VaultKeys;
use steel_sync::vault_key::migrate::{Migrated, migrate_with};
use steel_sync::vault_key::{self, Secret};
use steel_sync::{Api, SyncError};

use crate::net::{Rates, SimNet};
use crate::vault::{PASSPHRASE, Vault};
use crate::world::{Shared, World};

/// What one run of `steel-sync encrypt` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    Started,
    Resumed,
    Abandoned,
    /// Stopped by a fault; `true` when the device crashed.
    Stopped(bool),
    /// The switch committed in this run (or an earlier one whose answer was lost).
    Switched,
}

/// Whether `seed` starts plaintext and turns encrypted along the way.
pub fn is_migrating(seed: u64, rates: &Rates) -> bool {
    !crate::vault::is_encrypted(seed, rates.encrypted_every)
        && rates.migrate_every > 0
        && seed % rates.migrate_every == 1
}

/// Whether a sync op of a migration seed (whose own seed is `op_seed`) is a run of
/// `steel-sync encrypt` instead.
pub fn runs_migration(op_seed: u64, rates: &Rates) -> bool {
    ChaCha8Rng::seed_from_u64(op_seed ^ 0x0316_7a7e).random_bool(rates.migrate)
}

/// Whether an error of a command run through the faulty network is one of its faults
/// (the person runs the command again later) rather than a finding.
fn is_fault(e: &SyncError, crashed: bool) -> bool {
    match e {
        SyncError::Network { .. } | SyncError::Crash(_) => true,
        SyncError::Api { status, .. } => *status >= 500 || *status == 429,
        _ => crashed,
    }
}

impl Shared {
    /// After each request: if it was the switch, the oracle opens what the server keeps
    /// from now on with the migration's keys.
    pub fn note_switch(&mut self) {
        if self.vault.is_some() || self.server.mode() != Mode::Encrypted {
            return;
        }
        let Some(vault) = self.migration.take() else {
            return;
        };
        self.oracle.switched(&self.server, vault.keys.clone());
        self.vault = Some(vault);
        self.migrated = true;
        self.log("    -- the switch committed: the account is end-to-end encrypted".into());
    }
}

impl World {
    /// An API client of device `d` through its own faulty network, and no `Crypt`: the
    /// one `steel-sync encrypt` uses.
    fn device_api(&self, d: usize) -> Api {
        let device = &self.devices[d];
        let net = SimNet {
            shared: self.shared.clone(),
            device: d,
            device_id: device.id,
            disk: device.disk.clone(),
            crashed: device.crashed.clone(),
        };
        Api::over(
            Arc::new(net),
            crate::world::session(device.id, &device.name),
            None,
        )
    }

    /// The person runs `steel-sync encrypt` on device `d` (or, while a migration is under
    /// way, sometimes abandons it).
    pub fn migrate(&mut self, i: usize, d: usize, rng: &mut ChaCha8Rng) -> Result<(), String> {
        self.restart_if_crashed(d);
        let mode = self.shared().server.mode();
        let api = self.device_api(d);
        let keys = match mode {
            Mode::Encrypted => {
                self.log(format!("#{i} D{d} runs encrypt: the account is encrypted"));
                return Ok(());
            }
            Mode::Migrating if rng.random_bool(0.15) => {
                self.log(format!("#{i} D{d} abandons the migration"));
                self.shared().migration_runs.push(Run::Abandoned);
                return match self.rt.block_on(api.abandon_migration()) {
                    Ok(_) => {
                        self.shared().migration = None;
                        Ok(())
                    }
                    Err(e) => self.stopped(d, "abandoning", e),
                };
            }
            Mode::Migrating => {
                self.log(format!("#{i} D{d} runs encrypt again: it resumes"));
                self.shared().migration_runs.push(Run::Resumed);
                let secret = Secret::Passphrase(PASSPHRASE);
                match self.rt.block_on(vault_key::unlock(&api, &secret)) {
                    Ok(u) => u.keys,
                    Err(e) => return self.stopped(d, "unlocking", e),
                }
            }
            Mode::Plaintext => {
                self.log(format!("#{i} D{d} runs encrypt: the migration starts"));
                self.shared().migration_runs.push(Run::Started);
                let new = crate::vault::new_vault(rng.random());
                let keys = VaultKeys::generation0(&new.vk);
                self.shared().migration = Some(Vault {
                    keys: keys.clone(),
                    code: new.code.clone(),
                });
                if let Err(e) = self
                    .rt
                    .block_on(api.start_migration("\"v0\"", &new.request))
                {
                    return self.stopped(d, "starting", e);
                }
                keys
            }
        };
        let expected = self.shared().migration.as_ref().map(|m| m.keys.clone());
        if expected.as_ref() != Some(&keys) {
            return Err(format!("D{d}: the migration's slots open other keys"));
        }
        let mut crypt_rng = ChaCha20Rng::seed_from_u64(rng.random());
        match self.rt.block_on(migrate_with(&api, &keys, &mut crypt_rng)) {
            Ok(done) => {
                let how = match done {
                    Migrated::Switched(a) => format!("switched, {} notes", a.notes),
                    Migrated::AlreadyEncrypted => "already encrypted".into(),
                };
                self.log(format!("    D{d} encrypt: {how}; the device keeps the key"));
                self.shared().note_switch();
                self.shared().migration_runs.push(Run::Switched);
                self.keep_key(d, keys);
                Ok(())
            }
            Err(e) => self.stopped(d, "migrating", e),
        }
    }

    /// A command stopped by the network's faults is run again later; any other error is
    /// a finding.
    fn stopped(&self, d: usize, what: &str, e: SyncError) -> Result<(), String> {
        let crashed = self.devices[d].crashed.load(Ordering::Relaxed);
        if is_fault(&e, crashed) {
            self.log(format!("    D{d} {what} stops: {e}"));
            self.shared().migration_runs.push(Run::Stopped(crashed));
            Ok(())
        } else {
            Err(format!("D{d}'s migration failed {what}: {e}"))
        }
    }

    /// Device `d` holds the vault key from now on: its engine syncs the encrypted account
    /// on the `sync.db` it had.
    fn keep_key(&mut self, d: usize, keys: VaultKeys) {
        let Some(name) = self.devices[d].db.clone() else {
            return;
        };
        self.devices[d].unlocked = Some((keys, name));
        self.devices[d].pending = None;
        if self.devices[d].crashed.load(Ordering::Relaxed) {
            // The restart opens the engine with the key.
            return;
        }
        if let Some(old) = self.devices[d].syncer.take() {
            let syncer = self.syncer(d, &self.devices[d], old.into_store());
            self.devices[d].syncer = Some(syncer);
        }
    }

    /// Before a restore or rewind on device `d`: a plaintext device of a switched account
    /// would be refused, so its person unlocks it first.
    pub fn unlock_before(&mut self, d: usize) {
        if self.shared().migrated {
            self.unlock_if_refused(d, &SyncError::Locked);
        }
    }

    /// A plaintext device refused by the encrypted account: its person unlocks it with the
    /// passphrase. True when that is what `e` was.
    pub fn unlock_if_refused(&mut self, d: usize, e: &SyncError) -> bool {
        let refused = match e {
            SyncError::Locked => true,
            SyncError::Api { code, .. } => code == "vault_encrypted",
            _ => false,
        };
        let vault = (self.shared().vault.as_ref()).map(|v| Vault {
            keys: v.keys.clone(),
            code: v.code.clone(),
        });
        let (Some(vault), true, None) = (vault, refused, &self.devices[d].unlocked) else {
            return false;
        };
        self.log(format!(
            "    D{d} is refused ({e}); the person unlocks it with the passphrase"
        ));
        let api = self.bare_api(d, self.devices[d].id);
        let keys = match self.calmly(crate::vault::unlock(&api, &vault, true)) {
            Ok(k) => k,
            Err(why) => {
                self.shared().oracle.failure.get_or_insert(why);
                vault.keys
            }
        };
        self.keep_key(d, keys);
        true
    }
}
