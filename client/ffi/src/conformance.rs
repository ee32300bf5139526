//! The crypto crate's formats as plain functions, for the apps' conformance tests: the
//! Kotlin (and Swift) tests read `crypto/test-vectors/*.json` and check that the engine
//! they ship opens and derives exactly what the vectors pin, on their platform's build of
//! it. Each function takes every key it needs as an argument and keeps nothing; the engine
//! itself never hands a key out.

use steel_crypto::{
    BlobId, KdfPolicy, KeySlot, Manifest, PathKey, RecoveryCode, SecretKey, VaultKeys,
    decrypt_blob, open_path,
};
use steel_protocol::{VaultPath, Version};

use crate::error::EngineError;

fn invalid(what: &str) -> impl Fn(String) -> EngineError + '_ {
    move |why| EngineError::InvalidArgument {
        reason: format!("{what}: {why}"),
    }
}

fn crypto(e: steel_crypto::CryptoError) -> EngineError {
    EngineError::Integrity {
        reason: e.to_string(),
    }
}

/// The keys of `vault_key` (32 bytes) at `generation`; generations after 0 need the keyring.
fn keys(
    vault_key: &[u8],
    generation: u32,
    keyring: Option<&[u8]>,
) -> Result<VaultKeys, EngineError> {
    let raw: [u8; 32] = vault_key
        .try_into()
        .map_err(|_| invalid("vault key")("not 32 bytes".into()))?;
    VaultKeys::open(&SecretKey::from_bytes(raw), generation, keyring).map_err(crypto)
}

fn path_key(hex: &str) -> Result<PathKey, EngineError> {
    PathKey::from_hex(hex).ok_or_else(|| invalid("path key")("not 64 hex digits".into()))
}

/// What a manifest holds.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OpenedManifest {
    pub path: String,
    pub blob_id: String,
    pub size: u64,
    pub mtime_ms: i64,
}

/// The path key (hex) of `path` in the vault of `vault_key` (generation 0): the same for
/// every case and Unicode normalisation of the path.
#[uniffi::export]
pub fn conformance_path_key(vault_key: Vec<u8>, path: String) -> Result<String, EngineError> {
    let keys = keys(&vault_key, 0, None)?;
    let path = VaultPath::parse(&path).map_err(|e| invalid("path")(e.to_string()))?;
    Ok(PathKey::of(&keys, &path).to_hex())
}

/// Opens an encrypted path stored under `path_key`.
#[uniffi::export]
pub fn conformance_open_path(
    vault_key: Vec<u8>,
    path_key: String,
    encrypted_path: Vec<u8>,
) -> Result<String, EngineError> {
    let keys = keys(&vault_key, 0, None)?;
    let opened = open_path(&keys, &self::path_key(&path_key)?, &encrypted_path).map_err(crypto)?;
    Ok(opened.as_str().to_owned())
}

/// Opens a blob stored as `blob_id`, checking its authentication and that its content is
/// the blob id's.
#[uniffi::export]
pub fn conformance_open_blob(
    vault_key: Vec<u8>,
    generation: u32,
    keyring: Option<Vec<u8>>,
    blob_id: String,
    blob: Vec<u8>,
) -> Result<Vec<u8>, EngineError> {
    let keys = keys(&vault_key, generation, keyring.as_deref())?;
    let id =
        BlobId::from_hex(&blob_id).ok_or_else(|| invalid("blob id")("not 64 hex digits".into()))?;
    decrypt_blob(&keys, &id, &blob).map_err(crypto)
}

/// Opens the manifest of `version` of the note under `path_key`.
#[uniffi::export]
pub fn conformance_open_manifest(
    vault_key: Vec<u8>,
    generation: u32,
    keyring: Option<Vec<u8>>,
    path_key: String,
    version: i64,
    manifest: Vec<u8>,
) -> Result<OpenedManifest, EngineError> {
    let keys = keys(&vault_key, generation, keyring.as_deref())?;
    let version =
        Version::new(version).ok_or_else(|| invalid("version")("not a version number".into()))?;
    let opened =
        Manifest::open(&keys, &self::path_key(&path_key)?, version, &manifest).map_err(crypto)?;
    Ok(OpenedManifest {
        path: opened.path.as_str().to_owned(),
        blob_id: opened.blob_id.to_hex(),
        size: opened.size,
        mtime_ms: opened.mtime_ms,
    })
}

/// The vault key a key slot holds, opened with a passphrase (`recovery_code` null) or a
/// recovery code as typed. Argon2id parameters down to `min_memory_kib` are accepted (the
/// vectors use cheap ones; the engine's floor is 19 MiB).
#[uniffi::export]
pub fn conformance_open_slot(
    slot: Vec<u8>,
    passphrase: Option<String>,
    recovery_code: Option<String>,
    min_memory_kib: u32,
) -> Result<Vec<u8>, EngineError> {
    let slot = KeySlot::parse(&slot).map_err(crypto)?;
    let vk = match (passphrase, recovery_code) {
        (Some(p), None) => {
            let mut policy = KdfPolicy::DEFAULT;
            policy.floor.m_kib = policy.floor.m_kib.min(min_memory_kib);
            policy.floor.t = 1;
            slot.open_passphrase(&p, &policy)
        }
        (None, Some(c)) => slot.open_recovery(&RecoveryCode::parse(&c).map_err(crypto)?),
        _ => {
            return Err(invalid("secret")(
                "give exactly one of passphrase and recovery code".into(),
            ));
        }
    }
    .map_err(crypto)?;
    Ok(vk.expose().to_vec())
}

/// The 20 bytes of a recovery code as typed (a typo is `Integrity`, caught by its check
/// characters).
#[uniffi::export]
pub fn conformance_recovery_code(typed: String) -> Result<Vec<u8>, EngineError> {
    Ok(RecoveryCode::parse(&typed)
        .map_err(crypto)?
        .expose()
        .to_vec())
}
