//! The vector check: regenerates every file of `crypto/test-vectors/` and fails on any
//! difference (`STEEL_UPDATE_VECTORS=1` rewrites them instead: run this test alone then, as
//! the next one reads the files); then reads the files back
//! as another platform would and opens every object from the JSON alone.

use std::path::PathBuf;

use serde_json::Value;

use super::vectors_gen::*;
use super::*;
use crate::blob::decrypt_blob;
use crate::manifest::Manifest;
use crate::names::{PathKey, open_path};
use crate::recovery::RecoveryCode;
use crate::slot::KeySlot;
use crate::{BlobId, KdfPolicy};
use steel_protocol::Version;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-vectors")
}

fn check(name: &str, value: Value) -> Result<(), String> {
    let file = dir().join(name);
    let fresh = serde_json::to_string_pretty(&value).unwrap() + "\n";
    if std::env::var_os("STEEL_UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&file, &fresh).unwrap();
        return Ok(());
    }
    match std::fs::read_to_string(&file) {
        Ok(stored) if stored == fresh => Ok(()),
        Ok(_) => Err(format!("{name} differs from what the code produces")),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

#[test]
fn vectors_are_what_the_code_produces() {
    let failures: Vec<String> = [
        ("keys.json", keys_json()),
        ("slots.json", slots_json()),
        ("paths.json", paths_json()),
        ("blobs.json", blobs_json()),
        ("manifests.json", manifests_json()),
    ]
    .into_iter()
    .filter_map(|(name, value)| check(name, value).err())
    .collect();
    assert!(
        failures.is_empty(),
        "{failures:?}: a format changed. If that is intended, regenerate with \
         STEEL_UPDATE_VECTORS=1 cargo test -p steel-crypto vectors_are_what_the_code_produces, \
         and bump the format version"
    );
}

fn read(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join(name)).unwrap()).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn key(v: &Value) -> SecretKey {
    SecretKey::from_bytes(bytes(v).try_into().unwrap())
}

#[test]
fn stored_vectors_open_from_the_json_alone() {
    let slots = read("slots.json");
    let vk = key(&slots["vault_key"]);
    let policy = KdfPolicy {
        floor: FAST,
        ..KdfPolicy::DEFAULT
    };
    for s in slots["passphrase_slots"].as_array().unwrap() {
        let slot = KeySlot::parse(&bytes(&s["slot"])).unwrap();
        assert_eq!(
            slot.open_passphrase(s["passphrase"].as_str().unwrap(), &policy)
                .unwrap(),
            vk
        );
    }
    let nfd = slots["nfd_passphrase_opens_nfc_slot"]["typed"]
        .as_str()
        .unwrap();
    let slot1 = KeySlot::parse(&bytes(&slots["passphrase_slots"][1]["slot"])).unwrap();
    assert_eq!(slot1.open_passphrase(nfd, &policy).unwrap(), vk);
    let rc = &slots["recovery_code"];
    let code = RecoveryCode::parse(rc["display"].as_str().unwrap()).unwrap();
    assert_eq!(code.expose().as_slice(), bytes(&rc["bytes"]));
    assert_eq!(
        RecoveryCode::parse(rc["also_accepted"].as_str().unwrap()).unwrap(),
        code
    );
    let typo = rc["typo_rejected_before_decryption"].as_str().unwrap();
    assert_eq!(
        RecoveryCode::parse(typo),
        Err(crate::CryptoError::RecoveryCodeTypo)
    );
    let rslot = KeySlot::parse(&bytes(&slots["recovery_slot"]["slot"])).unwrap();
    assert_eq!(rslot.open_recovery(&code).unwrap(), vk);

    let k0 = keys();
    let rot = &read("keys.json")["rotation_to_generation1"];
    let k1 = VaultKeys::open(&key(&rot["vault_key"]), 1, Some(&bytes(&rot["keyring"]))).unwrap();

    for p in read("paths.json")["paths"].as_array().unwrap() {
        let pk = PathKey::from_hex(p["path_key"].as_str().unwrap()).unwrap();
        let opened = open_path(&k0, &pk, &bytes(&p["encrypted_path"])).unwrap();
        assert_eq!(opened.as_str(), p["nfc"].as_str().unwrap());
    }
    for b in read("blobs.json")["blobs"].as_array().unwrap() {
        let k = if b["generation"] == 1 { &k1 } else { &k0 };
        let content = pattern(b["len"].as_u64().unwrap() as usize);
        let id = BlobId::from_hex(b["blob_id"].as_str().unwrap()).unwrap();
        let blob = crate::encrypt_blob_with(
            k,
            &content,
            &crate::BlobRandom {
                dek: key(&b["dek"]),
                dek_nonce: bytes(&b["dek_nonce"]).try_into().unwrap(),
                nonce_prefix: bytes(&b["nonce_prefix"]).try_into().unwrap(),
            },
        );
        assert_eq!(blob.id, id);
        assert_eq!(
            hex::encode(&blob.bytes[..crate::blob::HEADER_LEN]),
            b["header"].as_str().unwrap()
        );
        assert_eq!(decrypt_blob(k, &id, &blob.bytes).unwrap(), content);
        if let Some(stored) = b.get("blob") {
            assert_eq!(decrypt_blob(k, &id, &bytes(stored)).unwrap(), content);
        }
    }
    for m in read("manifests.json")["manifests"].as_array().unwrap() {
        let k = if m["generation"] == 1 { &k1 } else { &k0 };
        let pk = PathKey::from_hex(m["path_key"].as_str().unwrap()).unwrap();
        let v = Version::new(m["version"].as_i64().unwrap()).unwrap();
        let opened = Manifest::open(k, &pk, v, &bytes(&m["manifest"])).unwrap();
        assert_eq!(opened.path.as_str(), m["path"].as_str().unwrap());
        assert_eq!(opened.size, m["size"].as_u64().unwrap());
    }
}
