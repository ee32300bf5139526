//! Builds the test vectors (`crypto/test-vectors/*.json`) from fixed inputs and seeded
//! ChaCha20 RNGs; every random input a format consumed is written beside its output, so
//! another platform can reproduce each output byte for byte from the JSON alone.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::*;
use crate::blob::{BlobRandom, SEGMENT_LEN, encrypt_blob_with, padded_len};
use crate::keys::GenerationKeys;
use crate::manifest::Manifest;
use crate::names::{PathKey, seal_path_with};
use crate::recovery::RecoveryCode;
use crate::seal::random;
use crate::slot::{KeySlot, passphrase_kek, recovery_kek};
use steel_protocol::Version;

fn h(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn gen_keys(g: &GenerationKeys) -> Value {
    json!({ "meta_key": h(g.meta.expose()), "wrap_key": h(g.wrap.expose()) })
}

/// The generation-1 keys every file that shows a rotated object uses.
pub(crate) fn rotated() -> (SecretKey, [u8; 24], VaultKeys, Vec<u8>) {
    let mut r = rng(1001);
    let vk1 = SecretKey::generate(&mut r);
    let nonce = random(&mut r);
    let (k1, keyring) = keys().rotate_with(&vk1, &nonce);
    (vk1, nonce, k1, keyring)
}

pub(crate) fn keys_json() -> Value {
    let k0 = keys();
    let (vk1, nonce, k1, keyring) = rotated();
    json!({
        "about": "Subkeys: HKDF-SHA-256 (RFC 5869), no salt, ikm = the generation's vault key, info = label (|| generation as u32 BE for meta and wrap keys), 32 bytes out. Generation g > 0 carries generation 0's name and dedup keys and every older generation's meta and wrap keys in its keyring, a sealed object (version 1 || generation u32 BE || nonce 24 || XChaCha20-Poly1305 ciphertext+tag) under HKDF(VK_g, info = keyring label), AAD = label || 0x00 || first 5 bytes.",
        "labels": {
            "name_key": "steel/v1/name-key", "dedup_key": "steel/v1/dedup-key",
            "meta_key": "steel/v1/meta-key", "wrap_key": "steel/v1/wrap-key",
            "keyring_key": "steel/v1/keyring-key", "keyring_aad": "steel/v1/keyring"
        },
        "vault_key": h(fixed_vk().expose()),
        "generation0": {
            "name_key": h(k0.name_key().expose()),
            "dedup_key": h(k0.dedup_key().expose()),
            "meta_key": h(k0.current().meta.expose()),
            "wrap_key": h(k0.current().wrap.expose()),
        },
        "rotation_to_generation1": {
            "vault_key": h(vk1.expose()),
            "keyring_nonce": h(&nonce),
            "keyring_plaintext": h(&[k0.name_key().expose().as_slice(), k0.dedup_key().expose(), &1u32.to_be_bytes(), &0u32.to_be_bytes(), k0.current().meta.expose(), k0.current().wrap.expose()].concat()),
            "keyring": h(&keyring),
            "generation1": gen_keys(k1.current()),
        },
    })
}

fn passphrase_slot(passphrase: &str, params: crate::KdfParams, seed: u64) -> Value {
    let slot =
        KeySlot::seal_passphrase(&fixed_vk(), 0, passphrase, params, &mut rng(seed)).unwrap();
    let kek = passphrase_kek(passphrase, &slot.salt, params).unwrap();
    json!({
        "passphrase": passphrase,
        "passphrase_utf8": h(passphrase.as_bytes()),
        "argon2id": { "m_kib": params.m_kib, "t": params.t, "p": params.p, "version": "0x13", "output_len": 32 },
        "id": h(&slot.id), "salt": h(&slot.salt), "nonce": h(&slot.nonce),
        "kek": h(kek.expose()),
        "slot": h(&slot.to_bytes()),
    })
}

pub(crate) fn slots_json() -> Value {
    let code = RecoveryCode::generate(&mut rng(2001));
    let slot = KeySlot::seal_recovery(&fixed_vk(), 0, &code, &mut rng(2002));
    let shown = code.display();
    let mut typo: Vec<char> = shown.chars().collect();
    typo.swap(0, 1);
    let typo: String = typo.into_iter().collect();
    json!({
        "about": "Key slots wrap the vault key (generation 0 here). Passphrase slots: KEK = Argon2id v1.3 (NFC passphrase, salt, m, t, p) -> 32 bytes; recovery-code slots: KEK = HKDF-SHA-256(salt = slot salt, ikm = the code's 20 bytes, info = 'steel/v1/recovery-kek'). Wrapped VK = XChaCha20-Poly1305(KEK, nonce, VK, AAD = 'steel/v1/slot' || 0x00 || slot bytes 0..78). The default-parameter slot is the one to time; the NFD passphrase opens the slot sealed with its NFC form.",
        "vault_key": h(fixed_vk().expose()),
        "default_policy": { "floor": { "m_kib": 19456, "t": 2, "p": 1 }, "ceiling": { "m_kib": 1048576, "t": 16, "p": 8 } },
        "passphrase_slots": [
            passphrase_slot("correct horse battery staple", FAST, 2003),
            passphrase_slot("Caf\u{e9} \u{1f511} \u{5bc6}\u{7801}", crate::KdfParams { m_kib: 256, t: 2, p: 2 }, 2004),
            passphrase_slot("correct horse battery staple", crate::KdfParams::DEFAULT, 2005),
        ],
        "nfd_passphrase_opens_nfc_slot": { "typed": "Cafe\u{301} \u{1f511} \u{5bc6}\u{7801}", "slot_index": 1 },
        "recovery_code": {
            "bytes": h(code.expose()),
            "display": shown,
            "alphabet": "0123456789ABCDEFGHJKMNPQRSTVWXYZ",
            "check": "160-bit big-endian number of the 20 bytes mod 32749, as 3 base32 characters (big-endian)",
            "also_accepted": shown.to_lowercase().replace('-', " "),
            "typo_rejected_before_decryption": typo,
        },
        "recovery_slot": {
            "id": h(&slot.id), "salt": h(&slot.salt), "nonce": h(&slot.nonce),
            "kek": h(recovery_kek(&code, &slot.salt).expose()),
            "slot": h(&slot.to_bytes()),
        },
    })
}

/// Paths with NFD, case, ß, dotted I, Kelvin, Ångström, final-sigma and ligature variants.
const PATHS: &[&str] = &[
    "thoughts/Hello.md",
    "thoughts/hello.md",
    "THOUGHTS/HELLO.MD",
    "sources/Caf\u{e9}.md",
    "sources/Cafe\u{301}.md",
    "sources/CAF\u{c9}.md",
    "sources/CAFE\u{301}.md",
    "questions/Stra\u{df}e.md",
    "questions/STRASSE.md",
    "questions/strasse.md",
    "syntheses/\u{130}stanbul.md",
    "syntheses/i\u{307}stanbul.md",
    "syntheses/Istanbul.md",
    "syntheses/\u{212a}elvin.md",
    "syntheses/kelvin.md",
    "syntheses/\u{212b}ngstr\u{f6}m.md",
    "syntheses/\u{e5}ngstro\u{308}m.md",
    "thoughts/\u{39f}\u{394}\u{39f}\u{3a3}.md",
    "thoughts/\u{3bf}\u{3b4}\u{3bf}\u{3c2}.md",
    "thoughts/\u{fb01}le.md",
    "thoughts/file.md",
    "a",
    "thoughts/a path whose name is exactly long enough to need a second 32-byte bucket.md",
];

pub(crate) fn paths_json() -> Value {
    let k = keys();
    let mut r = rng(3001);
    let entries: Vec<Value> = PATHS
        .iter()
        .map(|raw| {
            let p = path(raw);
            let nonce = random(&mut r);
            json!({
                "input": raw, "input_utf8": h(raw.as_bytes()),
                "nfc": p.as_str(), "nfc_utf8": h(p.as_str().as_bytes()),
                "case_key": p.case_key(), "case_key_utf8": h(p.case_key().as_bytes()),
                "path_key": PathKey::of(&k, &p).to_hex(),
                "nonce": h(&nonce),
                "encrypted_path": h(&seal_path_with(&k, &p, &nonce)),
            })
        })
        .collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, raw) in PATHS.iter().enumerate() {
        let key = PathKey::of(&k, &path(raw));
        match groups
            .iter_mut()
            .find(|g| PathKey::of(&k, &path(PATHS[g[0]])) == key)
        {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    json!({
        "about": "case_key = steel_protocol::VaultPath::case_key: NFC(lowercase(NFC(path))) with Rust's char::to_lowercase (Unicode default case conversion, final sigma in context). path_key = HMAC-SHA-256(name key, UTF-8 case key). encrypted_path = version 1 || generation u32 BE || nonce 24 || XChaCha20-Poly1305(meta key, nonce, NFC path || 0x80 || zeros to a multiple of 32, AAD = 'steel/v1/path' || 0x00 || first 5 bytes || path key (32 raw bytes)).",
        "unicode": {
            "rust_char_unicode_version": format!("{:?}", char::UNICODE_VERSION),
            "unicode_normalization_version": format!("{:?}", unicode_normalization::UNICODE_VERSION),
        },
        "name_key": h(k.name_key().expose()),
        "meta_key": h(k.current().meta.expose()),
        "generation": 0,
        "paths": entries,
        "same_path_key": groups.into_iter().filter(|g| g.len() > 1).collect::<Vec<_>>(),
    })
}

pub(crate) fn blobs_json() -> Value {
    let k0 = keys();
    let (_, _, k1, _) = rotated();
    let mut r = rng(4001);
    let cases = [
        (0, &k0),
        (1, &k0),
        (SEGMENT_LEN - 1, &k0),
        (SEGMENT_LEN, &k0),
        (SEGMENT_LEN + 1, &k0),
        (1 << 20, &k0),
        (5, &k1),
    ];
    let blobs: Vec<Value> = cases
        .into_iter()
        .map(|(len, k)| {
            let content = pattern(len);
            let random = BlobRandom::generate(&mut r);
            let blob = encrypt_blob_with(k, &content, &random);
            let mut v = json!({
                "generation": k.generation(),
                "len": len,
                "content_sha256": h(&Sha256::digest(&content)),
                "blob_id": blob.id.to_hex(),
                "dek": h(random.dek.expose()),
                "dek_nonce": h(&random.dek_nonce),
                "nonce_prefix": h(&random.nonce_prefix),
                "padded_len": padded_len(len),
                "segments": padded_len(len).div_ceil(SEGMENT_LEN),
                "blob_len": blob.bytes.len(),
                "header": h(&blob.bytes[..crate::blob::HEADER_LEN]),
                "blob_sha256": h(&Sha256::digest(&blob.bytes)),
            });
            if len <= 256 {
                v["content"] = json!(h(&content));
                v["blob"] = json!(h(&blob.bytes));
            }
            v
        })
        .collect();
    json!({
        "about": "Content of each case: byte i = i mod 251 (len bytes); the full blob is given up to 256 bytes of content, larger ones by header + SHA-256 of the whole blob. blob_id = HMAC-SHA-256(dedup key, content). Keys: generation 0 unless 'generation' is 1 (keys.json's rotation).",
        "dedup_key": h(k0.dedup_key().expose()),
        "generation0_wrap_key": h(k0.current().wrap.expose()),
        "generation1_wrap_key": h(k1.current().wrap.expose()),
        "blobs": blobs,
    })
}

pub(crate) fn manifests_json() -> Value {
    let k0 = keys();
    let (_, _, k1, _) = rotated();
    let mut r = rng(5001);
    let cases = [
        (
            "thoughts/Hello.md",
            b"# Hello\n".as_slice(),
            1i64,
            1_765_065_600_000i64,
            &k0,
        ),
        ("sources/Cafe\u{301}.md", b"", 2, 0, &k0),
        ("thoughts/Hello.md", b"# Hello again\n", 7, -1, &k1),
    ];
    let manifests: Vec<Value> = cases
        .into_iter()
        .map(|(raw, content, version, mtime_ms, k)| {
            let p = path(raw);
            let m = Manifest { path: p.clone(), blob_id: crate::BlobId::of(k, content), size: content.len() as u64, mtime_ms };
            let nonce = random(&mut r);
            let v = Version::new(version).unwrap();
            json!({
                "generation": k.generation(),
                "path": p.as_str(), "path_key": PathKey::of(k, &p).to_hex(),
                "version": version, "blob_id": m.blob_id.to_hex(), "size": m.size, "mtime_ms": mtime_ms,
                "nonce": h(&nonce),
                "manifest": h(&m.seal_with(k, v, &nonce)),
            })
        })
        .collect();
    json!({
        "about": "manifest = version 1 || generation u32 BE || nonce 24 || XChaCha20-Poly1305(meta key of that generation, nonce, pad32(path length u16 BE || NFC path || blob id 32 || size u64 BE || mtime_ms i64 BE), AAD = 'steel/v1/manifest' || 0x00 || first 5 bytes || path key (32) || version i64 BE). Name and dedup keys are generation 0's in both generations.",
        "generation0_meta_key": h(k0.current().meta.expose()),
        "generation1_meta_key": h(k1.current().meta.expose()),
        "manifests": manifests,
    })
}
