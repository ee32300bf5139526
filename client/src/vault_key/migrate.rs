//! Turning encryption on for a vault that has notes, from this device (README "Turning
//! encryption on for an existing vault"): stage an encrypted copy of every live note the
//! server lists as missing, in batches within the upload allowance, then switch. Every step
//! is kept by the server, so a run that stopped anywhere is finished by running it again.

use std::collections::HashMap;

use base64::Engine as _;
use steel_crypto::{Manifest, PathKey, VaultKeys, encrypt_blob, seal_path};
use steel_protocol::wire::{StageEntry, SwitchAnswer, Upload, VaultMode};
use steel_protocol::{VaultPath, Version};

use crate::api::Api;
use crate::error::{Result, SyncError};

/// Notes pulled, encrypted and staged per request.
const STAGE_BATCH: usize = 100;
/// Rounds of "read what is missing, stage it, switch" before giving up (each round makes
/// progress unless other devices keep editing).
const ROUNDS: usize = 50;

/// How the migration ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrated {
    /// This run switched the account: its notes and cursor.
    Switched(SwitchAnswer),
    /// The account was already encrypted (an earlier run's switch committed).
    AlreadyEncrypted,
}

fn is_code(e: &SyncError, code: &str) -> bool {
    matches!(e, SyncError::Api { code: c, .. } if c == code)
}

/// Stages every missing note and switches. `api` is the plaintext client of the account
/// (no vault key: the account is plaintext until the switch); `keys` the unlocked vault.
pub async fn migrate(api: &Api, keys: &VaultKeys) -> Result<Migrated> {
    migrate_with(api, keys, &mut super::os_rng()?).await
}

/// [`migrate`] with the nonces and blob keys drawn from `rng` (the simulation's seeded one).
pub async fn migrate_with(
    api: &Api,
    keys: &VaultKeys,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<Migrated> {
    for _ in 0..ROUNDS {
        let status = api.migration().await?;
        match status.mode {
            VaultMode::Encrypted => return Ok(Migrated::AlreadyEncrypted),
            VaultMode::Plaintext => {
                return Err(SyncError::Other(
                    "no migration is under way for this account (it was abandoned?): run \
                     `steel-sync encrypt` again"
                        .into(),
                ));
            }
            VaultMode::Migrating => {}
        }
        if status.missing.is_empty() {
            match api.switch_to_encrypted().await {
                Ok(done) => return Ok(Migrated::Switched(done)),
                Err(e) if is_code(&e, "migration_incomplete") => continue,
                Err(e) if is_code(&e, "vault_encrypted") => return Ok(Migrated::AlreadyEncrypted),
                Err(e) => return Err(e),
            }
        }
        let paths: Vec<String> = status.missing.iter().map(|m| m.path.to_string()).collect();
        for batch in paths.chunks(STAGE_BATCH) {
            stage_batch(api, keys, batch, rng).await?;
        }
    }
    Err(SyncError::Other(
        "the vault kept changing while it was being encrypted: run `steel-sync encrypt` \
         again"
            .into(),
    ))
}

/// Pulls the current plaintext of `paths`, encrypts it and stages it (uploading what the
/// server asks for, then staging again). Notes deleted or edited meanwhile come back as
/// missing or stale in the next round.
async fn stage_batch(
    api: &Api,
    keys: &VaultKeys,
    paths: &[String],
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<()> {
    let pulled = api.pull_current(paths).await?;
    let mut entries = Vec::with_capacity(pulled.files.len());
    let mut ciphertexts: HashMap<String, Vec<u8>> = HashMap::new();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for file in &pulled.files {
        let (plaintext, _) = api.fetch_checked(file).await?;
        let (entry, bytes) = encrypted_copy(keys, &file.path, file.version, &plaintext, rng, b64)?;
        ciphertexts.insert(file.path.to_string(), bytes);
        entries.push(entry);
    }
    stage_entries(api, entries, &ciphertexts).await
}

/// The stage entry of `plaintext` (note `path` at `version`) and its ciphertext.
fn encrypted_copy(
    keys: &VaultKeys,
    path: &VaultPath,
    version: i64,
    plaintext: &[u8],
    rng: &mut rand_chacha::ChaCha20Rng,
    b64: impl Fn(&[u8]) -> String,
) -> Result<(StageEntry, Vec<u8>)> {
    let blob = encrypt_blob(keys, plaintext, rng);
    let manifest = Manifest {
        path: path.clone(),
        blob_id: blob.id,
        size: plaintext.len() as u64,
        mtime_ms: chrono::Utc::now().timestamp_millis(),
    };
    // The note keeps its version number through the switch.
    let sealed_as = Version::new(version)
        .ok_or_else(|| SyncError::Other(format!("{path}: version {version}")))?;
    let entry = StageEntry {
        path: path.to_string(),
        version: serde_json::Number::from(version),
        path_key: PathKey::of(keys, path).to_hex(),
        blob_id: blob.id.to_hex(),
        content_hash: crate::scan::hash_bytes(&blob.bytes),
        size_bytes: serde_json::Number::from(blob.bytes.len()),
        sealed_path: b64(&seal_path(keys, path, rng)),
        sealed_manifest: b64(&manifest.seal(keys, sealed_as, rng)),
    };
    Ok((entry, blob.bytes))
}

/// Stages `entries`; the ones whose ciphertext the server asks for are uploaded and staged
/// again. A batch larger than the upload allowance is split.
async fn stage_entries(
    api: &Api,
    entries: Vec<StageEntry>,
    ciphertexts: &HashMap<String, Vec<u8>>,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let answer = match api.stage(entries.clone()).await {
        Ok(a) => a,
        Err(e) if is_code(&e, "push_too_large") && entries.len() > 1 => {
            let mut first = entries;
            let second = first.split_off(first.len() / 2);
            Box::pin(stage_entries(api, first, ciphertexts)).await?;
            return Box::pin(stage_entries(api, second, ciphertexts)).await;
        }
        Err(e) => return Err(e),
    };
    if let Some(r) = answer.rejected.first() {
        return Err(SyncError::Other(format!(
            "{}: the server refused its encrypted copy ({}: {})",
            r.path, r.code, r.message
        )));
    }
    if answer.uploads.is_empty() {
        return Ok(());
    }
    for up in &answer.uploads {
        let bytes = ciphertexts
            .get(up.path.as_str())
            .cloned()
            .ok_or_else(|| SyncError::Other(format!("{}: no ciphertext", up.path)))?;
        let upload = Upload {
            path: up.path.clone(),
            base_version: 0,
            content_hash: up.content_hash,
            size_bytes: up.size_bytes,
            upload_url: Some(up.upload_url.clone()),
            method: Some(up.method.clone()),
            headers: Some(up.headers.clone()),
            expires_at: Some(up.expires_at),
            deferred: false,
        };
        api.upload(&upload, bytes).await?;
    }
    let uploaded: Vec<StageEntry> = entries
        .into_iter()
        .filter(|e| answer.uploads.iter().any(|u| u.path.as_str() == e.path))
        .collect();
    let again = api.stage(uploaded).await?;
    if let Some(r) = again.rejected.first() {
        return Err(SyncError::Other(format!(
            "{}: the server refused its encrypted copy ({}: {})",
            r.path, r.code, r.message
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand_core::SeedableRng as _;
    use steel_crypto::{SecretKey, decrypt_blob, open_path};

    use super::*;

    #[test]
    fn a_staged_copy_opens_at_the_notes_version() {
        let keys = VaultKeys::generation0(&SecretKey::from_bytes([7; 32]));
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
        let path = VaultPath::parse("Notes/Plan.md").unwrap();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let unb64 = |t: &str| base64::engine::general_purpose::STANDARD.decode(t).unwrap();
        let (entry, bytes) = encrypted_copy(&keys, &path, 4, b"the plan", &mut rng, b64).unwrap();
        assert_eq!(entry.path, "Notes/Plan.md");
        assert_eq!(entry.version, serde_json::Number::from(4));
        assert_eq!(entry.content_hash, crate::scan::hash_bytes(&bytes));
        assert_eq!(entry.size_bytes, serde_json::Number::from(bytes.len()));
        let key = PathKey::of(&keys, &path);
        assert_eq!(entry.path_key, key.to_hex());
        assert_eq!(
            open_path(&keys, &key, &unb64(&entry.sealed_path)).unwrap(),
            path
        );
        let manifest = Manifest::open(
            &keys,
            &key,
            Version::new(4).unwrap(),
            &unb64(&entry.sealed_manifest),
        )
        .expect("sealed as version 4, the version it encrypts");
        assert_eq!(manifest.path, path);
        assert_eq!(manifest.blob_id.to_hex(), entry.blob_id);
        assert_eq!(
            decrypt_blob(&keys, &manifest.blob_id, &bytes).unwrap(),
            b"the plan"
        );
        // Not as any other version.
        assert!(
            Manifest::open(
                &keys,
                &key,
                Version::new(1).unwrap(),
                &unb64(&entry.sealed_manifest)
            )
            .is_err()
        );
    }
}
