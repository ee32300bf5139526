//! Push, confirm, state and pull of an encrypted account; each mode refusing the other's
//! bodies; case twins and stale bases.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::Version;
use steel_crypto::{Manifest, PathKey, decrypt_blob, open_path};

use super::super::sha256_hex;
use super::{Vault, encrypted_account, sync_sealed, unb64};
use crate::support::TestApp;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_encrypted_note_round_trips_and_a_known_blob_id_uploads_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-round-trip").await;
    let vault = Vault::new();
    let content = b"canary-7f3a secret note";

    let (up, confirmed) = sync_sealed(&app, &mac, &vault, "Notes/Plan.md", 0, content, 1).await;
    assert!(up["upload_url"].is_string(), "new bytes are uploaded");
    assert_eq!(up["version"], 1);
    let key = vault.key("Notes/Plan.md").to_hex();
    assert_eq!(confirmed["confirmed"][0]["path_key"], key, "{confirmed:?}");
    assert_eq!(confirmed["confirmed"][0]["version"], 1);
    assert!(confirmed["confirmed"][0].get("path").is_none());

    // The state: the path key and the sealed fields as sent; no plaintext anywhere.
    let state = app.state(&mac, &[]).await;
    assert_eq!(state.status, 200, "{:?}", state.body);
    assert_eq!(state.body["encrypted"], true);
    let file = &state.body["files"][0];
    assert_eq!(file["path_key"], key);
    assert_eq!(file["sealed"]["manifest_version"], 1);
    assert!(!state.body.to_string().contains("Plan.md"));
    let path_key = PathKey::from_hex(&key).expect("key");
    let opened = open_path(
        &vault.keys,
        &path_key,
        &unb64(&file["sealed"]["sealed_path"]),
    )
    .expect("the sealed path opens");
    assert_eq!(opened.as_str(), "Notes/Plan.md");
    let manifest = Manifest::open(
        &vault.keys,
        &path_key,
        Version::from_json(&serde_json::Number::from(1)).expect("v"),
        &unb64(&file["sealed"]["sealed_manifest"]),
    )
    .expect("the manifest opens at version 1");
    assert_eq!(manifest.size, content.len() as u64);

    // Pull: the ciphertext, which decrypts to the note.
    let pulled = app.pull(&mac, json!({"path_keys": [key]})).await;
    assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    let bytes = app.download(&pulled.body["files"][0]["download_url"]).await;
    assert_eq!(
        sha256_hex(&bytes),
        file["content_hash"].as_str().expect("hash")
    );
    assert_eq!(
        decrypt_blob(&vault.keys, &manifest.blob_id, &bytes).expect("decrypts"),
        content
    );
    assert_eq!(pulled.body["files"][0]["sealed"], file["sealed"]);

    // The same content under another name (a rename), encrypted again: another ciphertext,
    // but its blob id is known, so nothing is uploaded and the stored blob is used.
    let objects = app.user_keys(mac.user_id).await.len();
    let (up, confirmed) = sync_sealed(&app, &mac, &vault, "Archive/Plan.md", 0, content, 2).await;
    assert!(up["upload_url"].is_null(), "{up:?}");
    assert_eq!(up["content_hash"], file["content_hash"]);
    assert_eq!(
        confirmed["confirmed"][0]["content_hash"],
        file["content_hash"]
    );
    assert_eq!(
        app.user_keys(mac.user_id).await.len(),
        objects,
        "no new object"
    );
    assert_ne!(
        sha256_hex(&vault.blob(content, 2).bytes),
        file["content_hash"].as_str().expect("hash"),
        "the second encryption was another ciphertext"
    );

    // Sizes count ciphertext bytes.
    let size: i64 = sqlx::query_scalar("SELECT vault_size FROM users WHERE id = $1")
        .bind(mac.user_id)
        .fetch_one(&app.db)
        .await
        .expect("size");
    assert_eq!(size, 2 * i64::try_from(bytes.len()).expect("len"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn each_mode_refuses_the_other_modes_bodies(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let vault = Vault::new();
    let blob = vault.blob(b"x", 1);
    let sealed_entry = vault.confirm_entry("a.md", 0, 1, &blob, 1);
    let key = vault.key("a.md").to_hex();
    let plain = json!({"files": [{"path": "a.md", "base_version": 0,
        "content_hash": sha256_hex(b"x"), "size_bytes": 1}]});
    let sealed = json!({"files": [sealed_entry]});

    let plain_user = app.new_user_device("e2ee-plain").await;
    for answer in [
        app.push(&plain_user, sealed.clone()).await,
        app.confirm(&plain_user, sealed.clone()).await,
        app.delete(
            &plain_user,
            json!({"files": [{"path_key": key, "base_version": 1}]}),
        )
        .await,
        app.pull(&plain_user, json!({"path_keys": [key]})).await,
    ] {
        assert_eq!(answer.status, 409, "{:?}", answer.body);
        assert_eq!(answer.code(), "vault_not_encrypted");
    }
    let enc_user = encrypted_account(&app, "e2ee-enc").await;
    for answer in [
        app.push(&enc_user, plain.clone()).await,
        app.confirm(&enc_user, plain.clone()).await,
        app.delete(
            &enc_user,
            json!({"files": [{"path": "a.md", "base_version": 1}]}),
        )
        .await,
        app.pull(&enc_user, json!({"paths": ["a.md"]})).await,
    ] {
        assert_eq!(answer.status, 409, "{:?}", answer.body);
        assert_eq!(answer.code(), "vault_encrypted");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM file_state")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(rows, 0, "nothing written");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn case_twins_share_a_path_key_and_a_stale_base_is_a_conflict_with_sealed_fields(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-twins").await;
    let vault = Vault::new();
    assert_eq!(vault.key("Plan.md"), vault.key("plan.md"));
    assert_eq!(vault.key("Caf\u{e9}.md"), vault.key("Cafe\u{301}.md"));
    sync_sealed(&app, &mac, &vault, "Plan.md", 0, b"first", 1).await;

    // The twin, as a new note (base 0): the server has version 1 under that key.
    let blob = vault.blob(b"second", 2);
    let pushed = app
        .push(
            &mac,
            json!({"files": [vault.push_entry("plan.md", 0, &blob)]}),
        )
        .await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    assert_eq!(pushed.body["uploads"], json!([]));
    let conflict = &pushed.body["conflicts"][0];
    assert_eq!(conflict["path_key"], vault.key("Plan.md").to_hex());
    assert_eq!(conflict["server_version"], 1);
    assert_eq!(conflict["sealed"]["manifest_version"], 1);
    let path_key = vault.key("Plan.md");
    let name = open_path(
        &vault.keys,
        &path_key,
        &unb64(&conflict["sealed"]["sealed_path"]),
    )
    .expect("opens");
    assert_eq!(
        name.as_str(),
        "Plan.md",
        "the device sees the other exact-case name"
    );
    assert!(conflict["download_url"].is_string());

    // A manifest sealed for another version than the commit gives is a conflict, and
    // writes nothing; sealed for the right one, it commits.
    let pushed = app
        .push(
            &mac,
            json!({"files": [vault.push_entry("Plan.md", 1, &blob)]}),
        )
        .await;
    let up = &pushed.body["uploads"][0];
    assert_eq!(up["version"], 2, "{:?}", pushed.body);
    let put = app.upload(up, &blob.bytes).await;
    assert!(put.status().is_success());
    let wrong = vault.confirm_entry("Plan.md", 1, 5, &blob, 6);
    let confirmed = app.confirm(&mac, json!({"files": [wrong]})).await;
    assert_eq!(
        confirmed.body["confirmed"],
        json!([]),
        "{:?}",
        confirmed.body
    );
    assert_eq!(confirmed.body["conflicts"][0]["server_version"], 1);
    let right = vault.confirm_entry("Plan.md", 1, 2, &blob, 6);
    let confirmed = app.confirm(&mac, json!({"files": [right]})).await;
    assert_eq!(
        confirmed.body["confirmed"][0]["version"], 2,
        "{:?}",
        confirmed.body
    );

    // A confirm on a stale base (the twin, as new) is a conflict naming version 2.
    let stale = vault.confirm_entry("plan.md", 0, 1, &blob, 6);
    let confirmed = app.confirm(&mac, json!({"files": [stale]})).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(
        confirmed.body["confirmed"],
        json!([]),
        "{:?}",
        confirmed.body
    );
    assert_eq!(confirmed.body["conflicts"][0]["server_version"], 2);
    assert_eq!(
        confirmed.body["conflicts"][0]["sealed"]["manifest_version"],
        2
    );
}

/// `own=brief`: A's own live versions come brief to A (no content hash, no sealed fields,
/// `brief: true`, the rest as in full), full to A without it or with `own=full`, and full to
/// B, whose own versions are brief to it; a tombstone A made stays full; a bad `own` is 400.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn own_versions_come_brief_to_the_device_that_wrote_them(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = encrypted_account(&app, "e2ee-brief").await;
    let b = app.another_device(a.user_id, "second").await;
    let vault = Vault::new();
    sync_sealed(&app, &a, &vault, "Notes/Mine.md", 0, b"mine", 1).await;
    sync_sealed(&app, &b, &vault, "Notes/Theirs.md", 0, b"theirs", 2).await;
    sync_sealed(&app, &a, &vault, "Notes/Gone.md", 0, b"gone", 3).await;
    let gone = vault.key("Notes/Gone.md").to_hex();
    let deleted = app
        .delete(
            &a,
            json!({"files": [{"path_key": gone, "base_version": 1}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let listing = |body: &Value| -> HashMap<String, Value> {
        let files = body["files"].as_array().expect("files");
        assert_eq!(files.len(), 3, "{body:?}");
        (files.iter())
            .map(|f| (f["path_key"].as_str().expect("key").to_owned(), f.clone()))
            .collect()
    };
    let (mine, theirs) = (
        vault.key("Notes/Mine.md").to_hex(),
        vault.key("Notes/Theirs.md").to_hex(),
    );
    let full_to_a = app.state(&a, &[]).await;
    assert_eq!(full_to_a.status, 200, "{:?}", full_to_a.body);
    let full = listing(&full_to_a.body);
    for f in full.values() {
        assert!(
            f["sealed"].is_object() && f["content_hash"].is_string(),
            "{f}"
        );
        assert!(f.get("brief").is_none(), "{f}");
    }
    let explicit = app.state(&a, &[("own", "full")]).await;
    assert_eq!(listing(&explicit.body), full);

    let brief_to_a = app.state(&a, &[("own", "brief")]).await;
    assert_eq!(brief_to_a.status, 200, "{:?}", brief_to_a.body);
    assert_eq!(brief_to_a.body["cursor"], full_to_a.body["cursor"]);
    let brief = listing(&brief_to_a.body);
    let mut expected = full[&mine].clone();
    let fields = expected.as_object_mut().expect("object");
    fields.remove("content_hash");
    fields.remove("sealed");
    fields.insert("brief".into(), json!(true));
    assert_eq!(brief[&mine], expected, "A's own live version, brief");
    assert_eq!(brief[&mine]["updated_by"], json!(a.device_id.to_string()));
    assert_eq!(brief[&theirs], full[&theirs], "B's version stays full");
    assert_eq!(brief[&gone], full[&gone], "A's tombstone stays full");
    assert_eq!(brief[&gone]["is_deleted"], true);

    let brief_to_b = listing(&app.state(&b, &[("own", "brief")]).await.body);
    assert_eq!(brief_to_b[&mine], full[&mine], "A's version is full to B");
    assert_eq!(
        brief_to_b[&theirs]["brief"], true,
        "B's own version is brief to B"
    );
    assert!(brief_to_b[&theirs].get("sealed").is_none());

    // What it saves, per entry (names of any length: the sealed path grows with the name).
    let bytes = |v: &Value| serde_json::to_vec(v).expect("JSON").len();
    let (short, long) = (bytes(&brief[&mine]), bytes(&full[&mine]));
    eprintln!("one entry: {short} bytes brief, {long} bytes full");
    assert!(short * 2 < long, "{short} brief vs {long} full");

    for bad in ["short", "BRIEF", ""] {
        let refused = app.state(&a, &[("own", bad)]).await;
        assert_eq!(refused.status, 400, "own={bad}: {:?}", refused.body);
        assert_eq!(refused.body["error"]["code"], "invalid_request");
        let message = refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("own"), "{message}");
    }
}

/// A plaintext account takes `own` and answers as without it; a bad value is still 400.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_plaintext_account_answers_own_brief_in_full(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("plain-brief").await;
    app.sync_up(&mac, "Notes/Mine.md", 0, b"mine").await;
    let without = app.state(&mac, &[]).await;
    let brief = app.state(&mac, &[("own", "brief")]).await;
    assert_eq!(brief.status, 200, "{:?}", brief.body);
    assert_eq!(brief.body["files"], without.body["files"]);
    assert_eq!(brief.body["files"][0]["path"], "Notes/Mine.md");
    assert!(brief.body["files"][0]["content_hash"].is_string());
    let refused = app.state(&mac, &[("own", "nope")]).await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["code"], "invalid_request");
}
