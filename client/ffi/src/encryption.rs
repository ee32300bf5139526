//! End-to-end encryption through the engine (README "End-to-end encryption"): set-up with a
//! recovery code the app showed first, unlock with the passphrase or the code, passphrase
//! change, a new recovery code, lock. The unlocked vault key stays with the platform: the
//! app's [`VaultKeyStore`] (Keychain / Android Keystore) keeps it, as the CLI keeps it in
//! the system keyring; without one the engine keeps it in memory until it closes. The slot
//! logic is the reference client's (`steel_sync::vault_key`); this module only wires it.

use std::sync::{Arc, Mutex};

use steel_crypto::RecoveryCode;
use steel_sync::SyncError;
use steel_sync::vault_key::store::{KeyStore, keep, open_kept};
use steel_sync::vault_key::{self, Secret, Unlocked, migrate, slots};
use zeroize::Zeroizing;

use crate::engine::{Inner, SyncEngine};
use crate::error::{AppError, EngineError};

/// Implemented by the app: where the unlocked vault key is kept between runs. The bytes are
/// opaque (the key and the account it belongs to); keep them as a secret (Keychain item,
/// Keystore-wrapped preference). Every method may throw: the engine reports
/// `EngineException.KeyStoreFailed`.
#[uniffi::export(foreign)]
pub trait VaultKeyStore: Send + Sync {
    /// The kept bytes, or null when this device is locked.
    fn load(&self) -> Result<Option<Vec<u8>>, AppError>;
    /// Replaces the kept bytes.
    fn save(&self, key: Vec<u8>) -> Result<(), AppError>;
    /// Forgets them (lock, sign-out).
    fn clear(&self) -> Result<(), AppError>;
}

/// Whether the account is end-to-end encrypted, and whether this device holds its key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EncryptionState {
    pub encrypted: bool,
    pub unlocked: bool,
}

/// The prefix of a key-store failure in the library's error, so the engine reports it as
/// the app's store's, not as an internal error.
pub(crate) const STORE_FAILED: &str = "the app's vault key store failed: ";

/// The app's store as the library's [`KeyStore`].
pub(crate) struct AppKeyStore(pub Arc<dyn VaultKeyStore>);

fn store_failed(e: AppError) -> SyncError {
    SyncError::Other(format!("{STORE_FAILED}{e}"))
}

impl KeyStore for AppKeyStore {
    fn load_raw(&self) -> Result<Option<Zeroizing<Vec<u8>>>, SyncError> {
        Ok(self.0.load().map_err(store_failed)?.map(Zeroizing::new))
    }
    fn save_raw(&self, bytes: &[u8]) -> Result<(), SyncError> {
        self.0.save(bytes.to_vec()).map_err(store_failed)
    }
    fn clear(&self) -> Result<(), SyncError> {
        self.0.clear().map_err(store_failed)
    }
    fn describe(&self) -> String {
        "the app's vault key store".into()
    }
}

/// The engine's key store when the app gives none: the key lives as long as the engine.
#[derive(Default)]
pub(crate) struct MemoryKeyStore(Mutex<Option<Zeroizing<Vec<u8>>>>);

impl KeyStore for MemoryKeyStore {
    fn load_raw(&self) -> Result<Option<Zeroizing<Vec<u8>>>, SyncError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
    fn save_raw(&self, bytes: &[u8]) -> Result<(), SyncError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Zeroizing::new(bytes.to_vec()));
        Ok(())
    }
    fn clear(&self) -> Result<(), SyncError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        Ok(())
    }
    fn describe(&self) -> String {
        "the engine's memory".into()
    }
}

/// The key store of an engine: the app's, or memory.
pub(crate) fn key_store_of(app: Option<Arc<dyn VaultKeyStore>>) -> Box<dyn KeyStore> {
    match app {
        Some(store) => Box::new(AppKeyStore(store)),
        None => Box::<MemoryKeyStore>::default(),
    }
}

/// A recovery code as typed, or `InvalidArgument` saying what is wrong with it.
fn parse_code(typed: &str) -> Result<RecoveryCode, EngineError> {
    RecoveryCode::parse(typed).map_err(|e| EngineError::InvalidArgument {
        reason: e.to_string(),
    })
}

fn check_passphrase(passphrase: &str) -> Result<(), EngineError> {
    slots::check_passphrase(passphrase).map_err(|e| EngineError::InvalidArgument {
        reason: e.to_string(),
    })
}

/// A new recovery code, to show the person before [`SyncEngine::set_up_encryption`] or
/// [`SyncEngine::replace_recovery_code`] (nothing is uploaded yet).
#[uniffi::export]
pub fn new_recovery_code() -> Result<String, EngineError> {
    let mut rng = vault_key::os_rng()?;
    Ok(RecoveryCode::generate(&mut rng).display())
}

#[uniffi::export]
impl SyncEngine {
    /// Whether the account is end-to-end encrypted (asks the server) and whether this
    /// device holds its key.
    pub async fn encryption_state(&self) -> Result<EncryptionState, EngineError> {
        self.run(|inner| async move {
            let api = inner.api()?;
            let answer = vault_key::read(&api).await.map_err(|e| inner.explain(e))?;
            let unlocked = inner.kept_key()?.is_some();
            Ok(EncryptionState {
                encrypted: answer.encrypted,
                unlocked,
            })
        })
        .await
    }

    /// Makes the account end-to-end encrypted: a new vault key sealed under `passphrase`
    /// and under `recovery_code` (from [`new_recovery_code`], shown to the person and
    /// confirmed by them first). A vault with notes is migrated as `steel-sync encrypt`
    /// migrates it: every note encrypted and uploaded again, then the server switches the
    /// account over in one step (until then every device syncs it in plaintext). A migration
    /// left unfinished (this app closed, the network gone) is finished by calling this again
    /// with the passphrase it was started with (its recovery code stays the one given then).
    /// This device is unlocked afterwards. Refused if the account already is encrypted
    /// (`unlock` instead).
    pub async fn set_up_encryption(
        &self,
        passphrase: String,
        recovery_code: String,
    ) -> Result<(), EngineError> {
        check_passphrase(&passphrase)?;
        let code = parse_code(&recovery_code)?;
        self.run(move |inner| async move {
            let api = inner.api()?;
            let explain = |e| inner.explain(e);
            let current = vault_key::read(&api).await.map_err(explain)?;
            if current.encrypted {
                return Err(EngineError::Refused {
                    status: 409,
                    code: "vault_encrypted".into(),
                    reason: "this account is already end-to-end encrypted: unlock instead".into(),
                });
            }
            let secret = Secret::Passphrase(&passphrase);
            if !current.migrating {
                let new = slots::new_vault_with_code(
                    &passphrase,
                    code,
                    vault_key::kdf_params(),
                    &mut vault_key::os_rng()?,
                )?;
                match vault_key::set_up(&api, &new).await {
                    Ok(_) => {
                        let unlocked = vault_key::unlock(&api, &secret).await.map_err(explain)?;
                        return inner.keep_unlocked(&unlocked).await;
                    }
                    Err(SyncError::Api { code, .. }) if code == "vault_not_empty" => {
                        api.start_migration("\"v0\"", &new.request)
                            .await
                            .map_err(explain)?;
                    }
                    Err(e) => return Err(explain(e)),
                }
            }
            // A vault with notes: staged, switched, and only then kept here (the engine
            // syncs in plaintext until the switch, as every other device does).
            let unlocked = vault_key::unlock(&api, &secret).await.map_err(explain)?;
            migrate::migrate(&api, &unlocked.keys)
                .await
                .map_err(explain)?;
            inner.keep_unlocked(&unlocked).await
        })
        .await
    }

    /// Opens the account's vault with its passphrase and keeps the key on this device.
    pub async fn unlock(&self, passphrase: String) -> Result<(), EngineError> {
        self.run(
            move |inner| async move { inner.unlock_with(&Secret::Passphrase(&passphrase)).await },
        )
        .await
    }

    /// Opens the account's vault with its recovery code (as typed: case, spaces and dashes
    /// do not matter; a typo is caught by its check characters) and keeps the key.
    pub async fn unlock_with_recovery_code(
        &self,
        recovery_code: String,
    ) -> Result<(), EngineError> {
        let code = parse_code(&recovery_code)?;
        self.run(move |inner| async move { inner.unlock_with(&Secret::RecoveryCode(&code)).await })
            .await
    }

    /// Replaces the passphrase: `current` opens the vault, one new passphrase slot replaces
    /// the old one (nothing else is uploaded); the old passphrase stops working.
    pub async fn change_passphrase(
        &self,
        current: String,
        new_passphrase: String,
    ) -> Result<(), EngineError> {
        check_passphrase(&new_passphrase)?;
        self.run(move |inner| async move {
            let api = inner.api()?;
            let unlocked =
                vault_key::change_passphrase(&api, &Secret::Passphrase(&current), &new_passphrase)
                    .await
                    .map_err(|e| inner.explain(e))?;
            inner.keep_unlocked(&unlocked).await
        })
        .await
    }

    /// Replaces the recovery code with `new_code` (from [`new_recovery_code`], confirmed
    /// by the person): `passphrase` opens the vault; the old code stops working.
    pub async fn replace_recovery_code(
        &self,
        passphrase: String,
        new_code: String,
    ) -> Result<(), EngineError> {
        let code = parse_code(&new_code)?;
        self.run(move |inner| async move {
            let api = inner.api()?;
            let unlocked =
                vault_key::replace_recovery_code(&api, &Secret::Passphrase(&passphrase), &code)
                    .await
                    .map_err(|e| inner.explain(e))?;
            inner.keep_unlocked(&unlocked).await
        })
        .await
    }

    /// Forgets the vault key on this device (the app's store is cleared): syncs are refused
    /// (`Locked`) until the next unlock. The notes in the folder stay.
    pub async fn lock(&self) -> Result<(), EngineError> {
        self.run(|inner| async move {
            inner.key_store.clear().map_err(|e| inner.explain(e))?;
            inner.reopen().await
        })
        .await
    }
}

impl Inner {
    /// The key kept for the signed-in account, opened (`None`: locked or signed out).
    pub(crate) fn kept_key(&self) -> Result<Option<Unlocked>, EngineError> {
        let Some(stored) = self.tokens.load()? else {
            return Ok(None);
        };
        open_kept(self.key_store.as_ref(), &stored.user_id).map_err(|e| self.explain(e))
    }

    async fn unlock_with(&self, secret: &Secret<'_>) -> Result<(), EngineError> {
        let api = self.api()?;
        let unlocked = vault_key::unlock(&api, secret)
            .await
            .map_err(|e| self.explain(e))?;
        self.keep_unlocked(&unlocked).await
    }

    /// Keeps `unlocked` in the key store and syncs through it from now on.
    async fn keep_unlocked(&self, unlocked: &Unlocked) -> Result<(), EngineError> {
        let Some(stored) = self.tokens.load()? else {
            return Err(crate::engine::signed_out());
        };
        keep(self.key_store.as_ref(), &stored.user_id, unlocked).map_err(|e| self.explain(e))?;
        self.reopen().await
    }
}
