//! Where a device keeps its unlocked vault key between runs: the operating system's keyring
//! where one answers (macOS and iOS Keychain, Windows Credential Manager, the Secret Service
//! of a Linux desktop), otherwise a file in the vault's state folder readable by its owner
//! only, and the caller warns. Never `sync.db`, never a log line. The apps bring their own
//! store (Keychain / Android Keystore) through the same trait.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use steel_crypto::{SecretKey, VaultKeys};
use zeroize::Zeroizing;

use super::slots::Unlocked;
use crate::STATE_DIR;
use crate::error::{Result, SyncError};

/// What is kept: enough to open the vault's keys without the server or a secret.
#[derive(Serialize, Deserialize)]
struct Kept {
    /// 1.
    format: u32,
    /// The account the key belongs to (a store never opens another account's vault).
    user_id: String,
    /// The vault key, standard base64.
    vk: String,
    generation: u32,
    /// The sealed keyring, standard base64 (generation > 0).
    keyring: Option<String>,
}

/// A store of one account's unlocked vault key.
pub trait KeyStore: Send + Sync {
    /// The kept key, serialized (`None`: locked).
    fn load_raw(&self) -> Result<Option<Zeroizing<Vec<u8>>>>;
    fn save_raw(&self, bytes: &[u8]) -> Result<()>;
    fn clear(&self) -> Result<()>;
    /// Where it keeps the key, for the person.
    fn describe(&self) -> String;
}

/// Keeps `unlocked` for `user_id` in `store`.
pub fn keep(store: &dyn KeyStore, user_id: &str, unlocked: &Unlocked) -> Result<()> {
    let kept = Kept {
        format: 1,
        user_id: user_id.to_owned(),
        vk: STANDARD.encode(unlocked.vk.expose()),
        generation: unlocked.generation,
        keyring: unlocked.keyring.as_ref().map(|k| STANDARD.encode(k)),
    };
    let bytes =
        Zeroizing::new(serde_json::to_vec(&kept).map_err(|e| SyncError::Other(e.to_string()))?);
    store.save_raw(&bytes)
}

/// The kept key of `user_id`, opened; `None` when the device is locked. A kept key of
/// another account, or one that no longer opens its keyring, is refused, not used.
pub fn open_kept(store: &dyn KeyStore, user_id: &str) -> Result<Option<Unlocked>> {
    let Some(bytes) = store.load_raw()? else {
        return Ok(None);
    };
    let bad = |why: &str| {
        SyncError::Other(format!(
            "the vault key kept in {} is unusable ({why}): run `steel-sync unlock` again",
            store.describe()
        ))
    };
    let kept: Kept = serde_json::from_slice(&bytes).map_err(|_| bad("not readable"))?;
    if kept.format != 1 {
        return Err(bad("unknown format"));
    }
    if kept.user_id != user_id {
        return Err(bad("it belongs to another account"));
    }
    let raw = Zeroizing::new(STANDARD.decode(&kept.vk).map_err(|_| bad("not base64"))?);
    let vk: [u8; 32] = raw.as_slice().try_into().map_err(|_| bad("not 32 bytes"))?;
    let vk = SecretKey::from_bytes(vk);
    let keyring = kept
        .keyring
        .map(|k| STANDARD.decode(k).map_err(|_| bad("keyring not base64")))
        .transpose()?;
    let keys = VaultKeys::open(&vk, kept.generation, keyring.as_deref())?;
    Ok(Some(Unlocked {
        vk,
        generation: kept.generation,
        keyring,
        keys,
    }))
}

/// A file in the vault's state folder, mode 0600, written whole (temp file and rename).
pub struct FileKeyStore {
    path: PathBuf,
}

impl FileKeyStore {
    pub fn new(vault: &Path) -> Self {
        FileKeyStore {
            path: vault.join(STATE_DIR).join("vault-key"),
        }
    }
}

impl KeyStore for FileKeyStore {
    fn load_raw(&self) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match std::fs::read(&self.path) {
            Ok(b) => Ok(Some(Zeroizing::new(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SyncError::io(&self.path)(e)),
        }
    }

    fn save_raw(&self, bytes: &[u8]) -> Result<()> {
        let dir = self.path.parent().expect("in the state folder");
        std::fs::create_dir_all(dir).map_err(SyncError::io(dir))?;
        let tmp = self.path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(SyncError::io(&tmp))?;
        file.write_all(bytes).map_err(SyncError::io(&tmp))?;
        file.sync_all().map_err(SyncError::io(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(SyncError::io(&self.path))
    }

    fn clear(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SyncError::io(&self.path)(e)),
        }
    }

    fn describe(&self) -> String {
        format!("{} (readable by its owner only)", self.path.display())
    }
}

/// The operating system's keyring: service `steel-sync`, one entry per account and API.
pub struct OsKeyStore {
    entry: keyring::Entry,
    label: String,
}

impl OsKeyStore {
    /// The entry of `user_id` at `api_url`, if the OS keyring answers at all (a headless
    /// Linux has no Secret Service: `None`).
    pub fn probe(api_url: &str, user_id: &str) -> Option<OsKeyStore> {
        let account = format!("{user_id}@{api_url}");
        let entry = keyring::Entry::new("steel-sync", &account).ok()?;
        match entry.get_secret() {
            Ok(_) | Err(keyring::Error::NoEntry) => Some(OsKeyStore {
                entry,
                label: format!("the system keyring (steel-sync, {account})"),
            }),
            Err(_) => None,
        }
    }
}

fn os_error(e: keyring::Error) -> SyncError {
    SyncError::Other(format!("system keyring: {e}"))
}

impl KeyStore for OsKeyStore {
    fn load_raw(&self) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.entry.get_secret() {
            Ok(b) => Ok(Some(Zeroizing::new(b))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(os_error(e)),
        }
    }

    fn save_raw(&self, bytes: &[u8]) -> Result<()> {
        self.entry.set_secret(bytes).map_err(os_error)
    }

    fn clear(&self) -> Result<()> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(os_error(e)),
        }
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

/// Which store a vault's key goes to (`STEEL_KEY_STORE=file` forces the file): the system
/// keyring when it answers, else the file, with `true` for "warn the person".
pub fn store_for(vault: &Path, api_url: &str, user_id: &str) -> (Box<dyn KeyStore>, bool) {
    let forced_file = std::env::var("STEEL_KEY_STORE").is_ok_and(|v| v == "file");
    if !forced_file && let Some(os) = OsKeyStore::probe(api_url, user_id) {
        return (Box::new(os), false);
    }
    (Box::new(FileKeyStore::new(vault)), !forced_file)
}
