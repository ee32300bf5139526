//! End-to-end encrypted sync (issue 26): the one layer between the sync engine, which names
//! notes by path and knows them by the SHA-256 of their plaintext, and the server of an
//! encrypted account, which knows path keys, sealed paths and manifests, blob ids and the
//! SHA-256 of ciphertext (README "Encrypted notes on the server").
//!
//! The API calls of [`crate::api`] translate through a [`Crypt`] when the device holds the
//! unlocked vault key: a note pushed is encrypted once ([`Crypt::seal_note`]), its ciphertext
//! uploaded and its manifest sealed for the version push answered; every version the server
//! names is opened and checked ([`open_sealed`]: the sealed path must hash to its path key,
//! the manifest must open at its `manifest_version` for that path key, not above the
//! version, and name the same path and blob id) and every blob downloaded is checked
//! ([`open_blob`]: SHA-256 of the ciphertext, AEAD and blob id, size) before the engine sees
//! a byte of it. A check that fails is an error naming the note: nothing of it is written.
//!
//! What the engine compares is the SHA-256 of plaintext. For a remote version it is known
//! from the blob id when this device pushed or pulled that content before (kept in `sync.db`,
//! `blob:<blob id>`: the device's own knowledge of its own disk, never a key); otherwise the
//! blob id itself stands in, which no plaintext hash equals, so the engine fetches the note.
//! Those rows are read all at once when a sync first needs one, and what a sync learns is
//! written in one transaction per batch ([`Crypt::flush`]), before the engine records the
//! notes that rely on it (`crate::store::known`).

use std::collections::HashMap;
use std::sync::Mutex;

use rand_chacha::ChaCha20Rng;
use steel_crypto::{
    BlobId, EncryptedBlob, Manifest, PathKey, VaultKeys, decrypt_blob, encrypt_blob, open_path,
    seal_path,
};
use steel_protocol::wire::{Key32, Sealed};
use steel_protocol::{ContentHash, VaultPath, Version};

use crate::error::{Result, SyncError};
use crate::scan::hash_bytes;
use crate::store::Store;

mod synced;
pub use synced::{Recorded, Synced};

/// The unlocked vault's keys and what one sync has in flight.
pub struct Crypt {
    keys: VaultKeys,
    rng: Mutex<ChaCha20Rng>,
    /// Notes announced by push, by path, until confirmed or pushed again.
    sealing: Mutex<HashMap<String, Sealing>>,
    /// Versions a pull answered, by download URL and path (notes of one content share one
    /// stored object, and their URLs can be the same string): what their bytes must be.
    downloads: Mutex<HashMap<(String, String), Expected>>,
    /// Versions the last state listing named, by path and version: what their bytes must
    /// be, so that a large fetch goes to packs without pulling first.
    listed: Mutex<HashMap<(String, i64), Expected>>,
    /// Blob id → SHA-256 of its plaintext, for this device's own notes; `None` until read
    /// from `sync.db` (all at once, on first use).
    known: Mutex<Option<HashMap<[u8; 32], String>>>,
    /// Learnt and not yet written to `sync.db`: (blob id hex, plaintext hash hex).
    unsaved: Mutex<Vec<(String, String)>>,
    /// The name of each live note on the server as this device last learnt it, by case key
    /// (one path key): `None` until first read from `sync.db`. See [`Crypt::server_twin`].
    server_names: Mutex<Option<ServerNames>>,
    /// `sync.db`'s rows keyed for listings, with the generation they were read at.
    synced: Mutex<synced::Memo>,
    store: Option<Store>,
}

/// The live names of [`Crypt::server_twin`]: `sync.db`'s, read once and shared with the
/// listings ([`Synced::names`]), under what this process learnt since (`None`: deleted). A
/// listing of 10,000 notes this device already knows by those names learns nothing new and
/// copies nothing.
struct ServerNames {
    synced: std::sync::Arc<Synced>,
    learnt: HashMap<String, Option<VaultPath>>,
}

impl ServerNames {
    fn get(&self, case_key: &str) -> Option<&VaultPath> {
        match self.learnt.get(case_key) {
            Some(learnt) => learnt.as_ref(),
            None => self.synced.names.get(case_key),
        }
    }

    fn learn(&mut self, path: &VaultPath, live: bool) {
        let key = path.case_key();
        let known = self.get(&key);
        if (live && known == Some(path)) || (!live && known.is_none()) {
            return;
        }
        self.learnt.insert(key, live.then(|| path.clone()));
    }
}

/// A note being pushed: encrypted once; the same ciphertext is uploaded and confirmed.
pub struct Sealing {
    pub path: VaultPath,
    pub path_key: PathKey,
    pub blob: EncryptedBlob,
    pub plain_hash: String,
    pub plain_size: u64,
    pub sealed_path: Vec<u8>,
    /// What the version will store (push may answer another ciphertext of the blob id).
    pub content_hash: String,
    pub size: u64,
    /// The version push answered: the manifest is sealed for it.
    pub version: Option<i64>,
}

/// A version's sealed fields, opened and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub path: VaultPath,
    pub manifest: Manifest,
}

/// What the bytes behind a download URL must be.
#[derive(Debug, Clone)]
pub struct Expected {
    pub opened: Opened,
    pub content_hash: ContentHash,
}

/// A note whose sealed fields or bytes fail their check.
pub fn tampered(note: &str, why: impl std::fmt::Display) -> SyncError {
    SyncError::Tampered {
        note: note.to_owned(),
        why: why.to_string(),
    }
}

/// Opens the sealed fields of version `version` of the note under `path_key`.
pub fn open_sealed(
    keys: &VaultKeys,
    path_key: &Key32,
    version: i64,
    sealed: Option<&Sealed>,
) -> Result<Opened> {
    let bad = |why: String| tampered(&path_key.to_hex(), why);
    let sealed = sealed.ok_or_else(|| bad("no sealed fields".into()))?;
    let key = PathKey(path_key.0);
    let path =
        open_path(keys, &key, sealed.sealed_path.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let at = sealed.manifest_version;
    let manifest_version = Version::new(at)
        .filter(|v| v.get() >= 1 && v.get() <= version)
        .ok_or_else(|| bad(format!("a manifest of version {at} for version {version}")))?;
    let manifest = Manifest::open(
        keys,
        &key,
        manifest_version,
        sealed.sealed_manifest.as_bytes(),
    )
    .map_err(|e| bad(e.to_string()))?;
    if manifest.path != path {
        return Err(bad("the manifest names another path".into()));
    }
    if !manifest.blob_id.ct_eq(&BlobId(sealed.blob_id.0)) {
        return Err(bad("the manifest names another blob".into()));
    }
    Ok(Opened { path, manifest })
}

/// The plaintext of a downloaded blob, checked against the version it was downloaded for.
pub fn open_blob(keys: &VaultKeys, expected: &Expected, ciphertext: &[u8]) -> Result<Vec<u8>> {
    let bad = |why: String| tampered(expected.opened.path.as_str(), why);
    if ContentHash::of(ciphertext) != expected.content_hash {
        return Err(bad("the bytes do not match their hash".into()));
    }
    let manifest = &expected.opened.manifest;
    let plain =
        decrypt_blob(keys, &manifest.blob_id, ciphertext).map_err(|e| bad(e.to_string()))?;
    if plain.len() as u64 != manifest.size {
        return Err(bad("the content is not the manifest's size".into()));
    }
    Ok(plain)
}

impl Crypt {
    /// `store`: the vault's `sync.db`, where plaintext hashes of known blobs are kept.
    pub fn new(keys: VaultKeys, store: Option<Store>) -> Result<Self> {
        Ok(Self::with_rng(keys, store, crate::vault_key::os_rng()?))
    }

    /// [`Crypt::new`] drawing its nonces and blob keys from `rng`: the deterministic
    /// simulation seeds it; every real client takes the operating system's ([`Crypt::new`]).
    pub fn with_rng(keys: VaultKeys, store: Option<Store>, rng: ChaCha20Rng) -> Self {
        Crypt {
            keys,
            rng: Mutex::new(rng),
            sealing: Mutex::default(),
            downloads: Mutex::default(),
            listed: Mutex::default(),
            known: Mutex::default(),
            unsaved: Mutex::default(),
            server_names: Mutex::default(),
            synced: Mutex::default(),
            store,
        }
    }

    pub fn keys(&self) -> &VaultKeys {
        &self.keys
    }

    /// The names this device knows live on the server, by case key: first from `sync.db`
    /// (a case key with one synced name), then from what listings and writes tell.
    fn server_names(&self) -> std::sync::MutexGuard<'_, Option<ServerNames>> {
        let mut names = lock(&self.server_names);
        if names.is_none() {
            // The read a listing shares: nothing more when it was made for this sync.db.
            *names = Some(ServerNames {
                synced: self.synced().unwrap_or_default(),
                learnt: HashMap::new(),
            });
        }
        names
    }

    /// The server's note of `path`'s path key is now live under `path`, or deleted.
    pub fn learn_name(&self, path: &VaultPath, live: bool) {
        if let Some(names) = self.server_names().as_mut() {
            names.learn(path, live);
        }
    }

    /// Another letter case of `path` that names the live note of its path key on the
    /// server, as far as this device knows: a push of `path` would replace that note (one
    /// path key, one row), where a plaintext server refuses it as a case twin, so the push
    /// is refused here the same way (`case_conflict`). Without it, `Idea.md` edited here
    /// while another device renamed it to `idea.md` was pushed over `idea.md` from the
    /// version of the superseded name's tombstone ([`crate::api`]'s listing makes one), and
    /// `idea.md`'s lines were lost (simulation seed 33).
    pub fn server_twin(&self, path: &VaultPath) -> Option<VaultPath> {
        let names = self.server_names();
        let live = names.as_ref()?.get(&path.case_key())?;
        (live != path).then(|| live.clone())
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, ChaCha20Rng> {
        self.rng.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn path_key(&self, path: &VaultPath) -> PathKey {
        PathKey::of(&self.keys, path)
    }

    /// Encrypts a note to push and remembers it until its confirm.
    pub fn seal_note(&self, path: &VaultPath, plaintext: &[u8]) -> (PathKey, String, String, u64) {
        let blob = encrypt_blob(&self.keys, plaintext, &mut *self.rng());
        let sealed_path = seal_path(&self.keys, path, &mut *self.rng());
        let content_hash = hash_bytes(&blob.bytes);
        let size = blob.bytes.len() as u64;
        let path_key = self.path_key(path);
        // A blob id is the keyed hash of the plaintext: which plaintext it names is true
        // from now on, whatever the server does with the push. Learnt only once confirmed,
        // it was lost to a crash between the confirm's commit and its answer, and the note's
        // later tombstone then did not match the same content on disk, which went up again
        // (a deleted note resurrected; simulation seed 100113).
        self.learn(&blob.id, &hash_bytes(plaintext));
        let out = (path_key, blob.id.to_hex(), content_hash.clone(), size);
        let sealing = Sealing {
            path: path.clone(),
            path_key,
            plain_hash: hash_bytes(plaintext),
            plain_size: plaintext.len() as u64,
            blob,
            sealed_path,
            content_hash,
            size,
            version: None,
        };
        lock(&self.sealing).insert(path.as_str().to_owned(), sealing);
        out
    }

    /// Push answered: this version, storing this ciphertext.
    pub fn announced(&self, path: &str, version: i64, content_hash: &ContentHash, size: i64) {
        if let Some(s) = lock(&self.sealing).get_mut(path) {
            s.version = Some(version);
            s.content_hash = content_hash.to_hex();
            s.size = u64::try_from(size).unwrap_or(0);
        }
    }

    /// Runs `f` on the note being pushed at `path`.
    pub fn with_sealing<T>(&self, path: &str, f: impl FnOnce(&Sealing) -> T) -> Option<T> {
        lock(&self.sealing).get(path).map(f)
    }

    /// The sealed manifest of a note being pushed, for the version push answered.
    pub fn seal_manifest(&self, s: &Sealing, version: i64, mtime_ms: i64) -> Option<Vec<u8>> {
        let manifest = Manifest {
            path: s.path.clone(),
            blob_id: s.blob.id,
            size: s.plain_size,
            mtime_ms,
        };
        Some(manifest.seal(&self.keys, Version::new(version)?, &mut *self.rng()))
    }

    /// The server holds the note pushed at `path`: its plaintext hash, now known.
    pub fn done(&self, path: &str) -> Option<String> {
        let s = lock(&self.sealing).remove(path)?;
        self.learn(&s.blob.id, &s.plain_hash);
        Some(s.plain_hash)
    }

    /// The ciphertext to upload for `path`.
    pub fn ciphertext(&self, path: &str) -> Option<Vec<u8>> {
        self.with_sealing(path, |s| s.blob.bytes.clone())
    }

    /// The known blobs, read from `sync.db` in one query the first time.
    fn known(&self) -> std::sync::MutexGuard<'_, Option<HashMap<[u8; 32], String>>> {
        let mut known = lock(&self.known);
        if known.is_none() {
            let stored = (self.store.as_ref())
                .and_then(|s| s.known_blobs().ok())
                .unwrap_or_default();
            // With what was learnt before this first read and not written yet (see `learn`).
            let unsaved = lock(&self.unsaved).clone();
            let parsed = (stored.into_iter().chain(unsaved))
                .filter_map(|(id, hash)| Some((BlobId::from_hex(&id)?.0, hash)));
            *known = Some(parsed.collect());
        }
        known
    }

    /// Remembers that `id` is the content of plaintext hash `hash` (written to `sync.db`
    /// by the next [`Crypt::flush`]). Before anything needed the known blobs, they are not
    /// read for this: a push of one note would read every row to learn one (the row is
    /// written again if it was there; a first read later takes it from `unsaved`).
    pub fn learn(&self, id: &BlobId, hash: &str) {
        let mut known = lock(&self.known);
        if known.is_none() && self.store.is_none() {
            // Nothing to read: the map is all there is.
            *known = Some(HashMap::new());
        }
        let fresh = match known.as_mut() {
            Some(known) => (known.insert(id.0, hash.to_owned())).is_none_or(|was| was != hash),
            None => true,
        };
        if fresh && self.store.is_some() {
            lock(&self.unsaved).push((id.to_hex(), hash.to_owned()));
        }
    }

    /// Writes what was learnt since the last flush to `sync.db`, in one transaction. Called
    /// before the engine records the notes whose hashes it learnt: a crash in between
    /// leaves rows no note uses yet, and a crash before it only rows unwritten (the note is
    /// downloaded again), never a wrong hash (every row is true whenever it is written).
    pub fn flush(&self) -> Result<()> {
        let unsaved = std::mem::take(&mut *lock(&self.unsaved));
        match &self.store {
            Some(store) if !unsaved.is_empty() => store.learn_blobs(&unsaved),
            _ => Ok(()),
        }
    }

    /// What the engine compares for a version of blob `id`: its plaintext hash when known,
    /// else the blob id, which no plaintext hash equals.
    pub fn engine_hash(&self, id: &BlobId) -> ContentHash {
        let known = self.known();
        known
            .as_ref()
            .and_then(|k| k.get(&id.0))
            .and_then(|h| ContentHash::parse(h).ok())
            .unwrap_or(ContentHash::of_digest(id.0))
    }

    pub fn open(&self, path_key: &Key32, version: i64, sealed: Option<&Sealed>) -> Result<Opened> {
        open_sealed(&self.keys, path_key, version, sealed)
    }

    /// A pull answered `url` for this version.
    pub fn expect_download(&self, url: &str, expected: Expected) {
        let key = (url.to_owned(), expected.opened.path.as_str().to_owned());
        lock(&self.downloads).insert(key, expected);
    }

    /// What the bytes behind `url`, pulled for `path`, must be.
    pub fn expected(&self, url: &str, path: &str) -> Option<Expected> {
        lock(&self.downloads).remove(&(url.to_owned(), path.to_owned()))
    }

    /// A state listing named `version` of `path`, opened as `expected`.
    pub fn list(&self, path: &str, version: i64, expected: Expected) {
        lock(&self.listed).insert((path.to_owned(), version), expected);
    }

    /// What the bytes of `version` of `path` must be, if the last listing named it.
    pub fn listed(&self, path: &str, version: i64) -> Option<Expected> {
        lock(&self.listed).remove(&(path.to_owned(), version))
    }

    /// A new listing begins: what the last one named is no longer needed.
    pub fn forget_listed(&self) {
        lock(&self.listed).clear();
    }

    /// The SHA-256 (hex) of what is stored behind `url`, a download a pull answered: the
    /// ciphertext's, which packs index.
    pub fn stored_hash(&self, url: &str, path: &str) -> Option<String> {
        lock(&self.downloads)
            .get(&(url.to_owned(), path.to_owned()))
            .map(|e| e.content_hash.to_hex())
    }
}

impl Crypt {
    /// For a process about to exit: takes the maps of every note (listed versions, known
    /// blobs, names, `sync.db`'s rows) out and never frees them. Freeing them one allocation
    /// at a time was a tenth of the CLI's no-change sync of an encrypted 10,000-note vault;
    /// the operating system takes the pages back at once. What is unsaved is not touched:
    /// the `Crypt`'s drop writes it as always, and drops (and zeroes) the keys.
    pub fn leak_caches(&self) {
        std::mem::forget(std::mem::take(&mut *lock(&self.listed)));
        std::mem::forget(std::mem::take(&mut *lock(&self.downloads)));
        std::mem::forget(std::mem::take(&mut *lock(&self.known)));
        std::mem::forget(std::mem::take(&mut *lock(&self.server_names)));
        std::mem::forget(std::mem::take(&mut *lock(&self.synced)));
    }
}

impl Drop for Crypt {
    /// What a sync learnt and no batch wrote yet (a command that fetched without recording,
    /// or a sync that failed after its fetches) is kept for the next one; a failure costs
    /// only downloads.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
