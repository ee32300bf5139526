//! An end-to-end encrypted account's writes under the same faults as the plaintext ones: a
//! confirm of two notes with their sealed paths and manifests (one an edit, one new), a
//! delete of two notes by path key, a write of the key slots (a passphrase changed), and
//! the same confirm through one incoming pack of the two ciphertexts (bulk upload), sent as
//! the reference client sends it (`super::cases::bulk_confirm`).
//! The blobs are `steel-crypto` ciphertexts with fixed randomness, so every cell's request
//! is the same bytes.

use serde_json::json;
use steel_core::domain::{UserId, VaultPath};

use super::cases::{Case, Prepared};
use super::harness::assert_success;
use crate::bulk::{pack_of, upload_pack};
use crate::support::{Answer, TestApp, oracle};
use crate::vault::encrypted::{Vault, encrypted_account, slots_body_with, sync_sealed};
use crate::vault::sha256_hex;

const OLD_A: &[u8] = b"# a\nfirst, sealed\n";
const OLD_B: &[u8] = b"# b\nfirst, sealed\n";
const NEW_A: &[u8] = b"# a\nsecond, sealed\n";
const NEW_C: &[u8] = b"# c\na new sealed note\n";

/// An encrypted account holding `a.md` and `b.md` (version 1 each), and the request body.
pub async fn prepare(case: Case, app: &TestApp, sub: &str) -> Prepared {
    let device = encrypted_account(app, sub).await;
    let vault = Vault::new();
    sync_sealed(app, &device, &vault, "a.md", 0, OLD_A, 1).await;
    sync_sealed(app, &device, &vault, "b.md", 0, OLD_B, 2).await;
    let body = match case {
        Case::SealedConfirm => {
            let (a, c) = (vault.blob(NEW_A, 3), vault.blob(NEW_C, 4));
            let files = json!({"files": [vault.push_entry("a.md", 1, &a),
                                         vault.push_entry("c.md", 0, &c)]});
            let pushed = app.push(&device, files).await;
            assert_eq!(pushed.status, 200, "{:?}", pushed.body);
            let uploads = pushed.body["uploads"].as_array().expect("uploads");
            assert_eq!(uploads.len(), 2, "{:?}", pushed.body);
            for (up, blob) in uploads.iter().zip([&a, &c]) {
                let put = app.upload(up, &blob.bytes).await;
                assert!(put.status().is_success(), "PUT {}", put.status());
            }
            json!({"files": [
                vault.confirm_entry("a.md", 1, 2, &a, NEW_A.len() as u64),
                vault.confirm_entry("c.md", 0, 1, &c, NEW_C.len() as u64),
            ]})
        }
        Case::SealedBulkConfirm => {
            let (a, c) = (vault.blob(NEW_A, 3), vault.blob(NEW_C, 4));
            let files = json!({"files": [vault.push_entry("a.md", 1, &a),
                                         vault.push_entry("c.md", 0, &c)]});
            let pushed = app.push(&device, files).await;
            assert_eq!(pushed.status, 200, "{:?}", pushed.body);
            let (pack, index) = pack_of(&[a.bytes.as_slice(), c.bytes.as_slice()]);
            let pack_id = upload_pack(app, &device, &pack).await;
            json!({"pack_id": pack_id, "blobs": index, "files": [
                vault.confirm_entry("a.md", 1, 2, &a, NEW_A.len() as u64),
                vault.confirm_entry("c.md", 0, 1, &c, NEW_C.len() as u64),
            ]})
        }
        Case::SealedDelete => json!({"files": [
            {"path_key": vault.key("a.md").to_hex(), "base_version": 1},
            {"path_key": vault.key("b.md").to_hex(), "base_version": 1},
        ]}),
        // The passphrase changed: another slot in place of the first one.
        Case::PutKeys => slots_body_with(2),
        other => unreachable!("{other:?} is not an encrypted account's case"),
    };
    Prepared { device, body }
}

pub async fn send(case: Case, app: &TestApp, p: &Prepared) -> Answer {
    let body = p.body.clone();
    match case {
        Case::SealedConfirm => app.confirm(&p.device, body).await,
        Case::SealedBulkConfirm => super::cases::bulk_confirm(app, p).await,
        Case::SealedDelete => app.delete(&p.device, body).await,
        Case::PutKeys => app.put_keys(&p.device, Some("\"v1\""), body).await,
        other => unreachable!("{other:?} is not an encrypted account's case"),
    }
}

/// The request (or its retry) succeeded, and the account holds what one request writes.
pub async fn check_done(case: Case, app: &TestApp, p: &Prepared, answer: &Answer) {
    assert_success(case, answer);
    let user = p.device.user_id;
    let vault = Vault::new();
    match case {
        Case::SealedConfirm | Case::SealedBulkConfirm => {
            let confirmed = answer.body["confirmed"].as_array().expect("confirmed");
            assert_eq!(confirmed.len(), 2, "{:?}", answer.body);
            let (a, c) = (vault.blob(NEW_A, 3), vault.blob(NEW_C, 4));
            let (a, c) = (sha256_hex(&a.bytes), sha256_hex(&c.bytes));
            let b = sha256_hex(&vault.blob(OLD_B, 2).bytes);
            assert_notes(app, user, &[("a.md", 2, Some(&a)), ("b.md", 1, Some(&b))]).await;
            assert_notes(app, user, &[("c.md", 1, Some(&c))]).await;
        }
        Case::SealedDelete => {
            let deleted = answer.body["deleted"].as_array().expect("deleted");
            assert_eq!(deleted.len(), 2, "{:?}", answer.body);
            assert_notes(app, user, &[("a.md", 2, None), ("b.md", 2, None)]).await;
        }
        Case::PutKeys => {
            assert_eq!(answer.body["etag"], "\"v2\"", "{:?}", answer.body);
            let keys = app.keys(&p.device).await;
            assert_eq!(keys.body["slots"], p.body["slots"], "{:?}", keys.body);
            assert_eq!(keys.body["encrypted"], true);
        }
        other => unreachable!("{other:?} is not an encrypted account's case"),
    }
    // Every version of the account carries its sealed fields: none was written without.
    let unsealed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM file_versions WHERE user_id = $1 AND NOT is_deleted
         AND sealed_manifest IS NULL",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .expect("count");
    assert_eq!(unsealed, 0, "{case:?}: versions without sealed fields");
}

/// Each (path, version, stored hash or deleted) is the current row of the note's path key.
async fn assert_notes(app: &TestApp, user: UserId, want: &[(&str, i64, Option<&String>)]) {
    let vault = Vault::new();
    for (path, version, hash) in want {
        let key = VaultPath::parse(&vault.key(path).to_hex()).expect("a path key is a path");
        let row = oracle::file_row(&app.db, user, &key)
            .await
            .unwrap_or_else(|| panic!("{path}: no row"));
        assert_eq!(row.version, *version, "{path}");
        assert_eq!(row.is_deleted, hash.is_none(), "{path}");
        if let Some(hash) = hash {
            assert_eq!(&row.content_hash.to_hex(), *hash, "{path}");
        }
    }
}
