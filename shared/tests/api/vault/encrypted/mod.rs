//! The notes of an end-to-end encrypted account (README "Encrypted notes on the server"),
//! with bytes made by `steel-crypto`: push → PUT → confirm → state → pull → decrypt, dedupe
//! by blob id (no upload for a blob id the account holds), each mode refusing the other's
//! bodies, case twins colliding on their path key, stale bases as conflicts with the
//! server's sealed fields, tombstones keeping the sealed fields, no path in a push payload,
//! a 4xx with a code for every bad field, and bulk upload of ciphertext packs.
mod bulk;
mod checks;
mod janitor;
mod migration;
mod recovery;
mod sync;

use base64::Engine as _;
use serde_json::{Value, json};
use steel_core::domain::Version;
use steel_crypto::blob::BlobRandom;
use steel_crypto::slot::{KdfParams, KeySlot, SlotKind};
use steel_crypto::{
    EncryptedBlob, Manifest, PathKey, SecretKey, VaultKeys, encrypt_blob_with, seal_path_with,
};
use steel_protocol::VaultPath;

use super::sha256_hex;
use crate::support::{TestApp, TestDevice};

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 text"))
        .expect("base64")
}

/// One device's view of an encrypted vault: its keys, and a counter for fresh randomness.
pub struct Vault {
    pub keys: VaultKeys,
}

impl Vault {
    pub fn new() -> Self {
        Vault {
            keys: VaultKeys::generation0(&SecretKey::from_bytes([42; 32])),
        }
    }

    pub fn path(raw: &str) -> VaultPath {
        VaultPath::parse(raw).expect("path")
    }

    pub fn key(&self, path: &str) -> PathKey {
        PathKey::of(&self.keys, &Vault::path(path))
    }

    /// `content` encrypted with randomness `seed` (another seed: another ciphertext).
    pub fn blob(&self, content: &[u8], seed: u8) -> EncryptedBlob {
        let random = BlobRandom {
            dek: SecretKey::from_bytes([seed; 32]),
            dek_nonce: [seed; 24],
            nonce_prefix: [seed; 19],
        };
        encrypt_blob_with(&self.keys, content, &random)
    }

    pub fn push_entry(&self, path: &str, base: i64, blob: &EncryptedBlob) -> Value {
        json!({"path_key": self.key(path).to_hex(), "base_version": base,
               "blob_id": blob.id.to_hex(), "content_hash": sha256_hex(&blob.bytes),
               "size_bytes": blob.bytes.len()})
    }

    /// The confirm entry of `path` at `version`, with its path and manifest sealed.
    pub fn confirm_entry(
        &self,
        path: &str,
        base: i64,
        version: i64,
        blob: &EncryptedBlob,
        size: u64,
    ) -> Value {
        let p = Vault::path(path);
        let manifest = Manifest {
            path: p.clone(),
            blob_id: blob.id,
            size,
            mtime_ms: 1_765_000_000_000,
        };
        let version_ = Version::from_json(&serde_json::Number::from(version)).expect("version");
        let mut e = self.push_entry(path, base, blob);
        e["version"] = json!(version);
        e["sealed_path"] = json!(b64(&seal_path_with(&self.keys, &p, &[3; 24])));
        e["sealed_manifest"] = json!(b64(&manifest.seal_with(&self.keys, version_, &[4; 24])));
        e
    }
}

/// A well-formed passphrase slot: enough for the server to mark the account encrypted.
pub fn slots_body() -> Value {
    slots_body_with(1)
}

/// Another well-formed passphrase slot (a passphrase changed), slot id and bytes from `seed`.
pub fn slots_body_with(seed: u8) -> Value {
    let slot = KeySlot {
        id: [seed; 16],
        kind: SlotKind::Passphrase,
        generation: 0,
        kdf: Some(KdfParams::DEFAULT),
        salt: [seed.wrapping_add(1); 16],
        nonce: [seed.wrapping_add(2); 24],
        wrapped_vk: [seed.wrapping_add(3); 48],
    };
    json!({"slots": [{"id": hex::encode(slot.id), "kind": "passphrase",
                      "slot": b64(&slot.to_bytes())}], "keyring": null})
}

pub async fn encrypted_account(app: &TestApp, sub: &str) -> TestDevice {
    let mac = app.new_user_device(sub).await;
    let put = app.put_keys(&mac, Some("\"v0\""), slots_body()).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    mac
}

/// push → PUT (when asked) → confirm of one note; the confirm answer.
pub async fn sync_sealed(
    app: &TestApp,
    dev: &TestDevice,
    vault: &Vault,
    path: &str,
    base: i64,
    content: &[u8],
    seed: u8,
) -> (Value, Value) {
    let blob = vault.blob(content, seed);
    let pushed = app
        .push(dev, json!({"files": [vault.push_entry(path, base, &blob)]}))
        .await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let up = pushed.body["uploads"][0].clone();
    assert!(up.is_object(), "no upload: {:?}", pushed.body);
    if !up["upload_url"].is_null() {
        let put = app.upload(&up, &blob.bytes).await;
        assert!(put.status().is_success(), "PUT {}", put.status());
    }
    let version = up["version"].as_i64().expect("version");
    let entry = vault.confirm_entry(path, base, version, &blob, content.len() as u64);
    let confirmed = app.confirm(dev, json!({"files": [entry]})).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    (up, confirmed.body)
}
