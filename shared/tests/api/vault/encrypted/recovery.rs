//! Tombstones, history, deleted notes, restore and rewind of an encrypted account: each
//! answer by path key, with the sealed fields of the version it names.

use serde_json::json;
use sqlx::PgPool;

use super::{Vault, encrypted_account, sync_sealed};
use crate::support::TestApp;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_tombstone_keeps_the_sealed_fields_of_what_it_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-delete").await;
    let vault = Vault::new();
    sync_sealed(&app, &mac, &vault, "gone.md", 0, b"to delete", 1).await;
    let key = vault.key("gone.md").to_hex();
    let live = app.state(&mac, &[]).await.body["files"][0]["sealed"].clone();

    let deleted = app
        .delete(
            &mac,
            json!({"files": [{"path_key": key, "base_version": 1}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let tomb = &deleted.body["deleted"][0];
    assert_eq!(tomb["path_key"], key);
    assert_eq!(tomb["version"], 2);
    assert_eq!(
        tomb["sealed"], live,
        "the tombstone names the note it deleted"
    );

    let state = app.state(&mac, &[]).await;
    assert_eq!(state.body["files"][0]["is_deleted"], true);
    assert_eq!(state.body["files"][0]["sealed"]["manifest_version"], 1);
    let pulled = app
        .pull(&mac, json!({"files": [{"path_key": key, "version": 1}]}))
        .await;
    assert_eq!(pulled.body["files"][0]["sealed"], live, "{:?}", pulled.body);
    let missing = app
        .pull(&mac, json!({"path_keys": ["ab".repeat(32)]}))
        .await;
    assert_eq!(missing.body["not_found"], json!(["ab".repeat(32)]));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn history_deleted_and_restore_answer_by_path_key_with_sealed_fields(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-recovery").await;
    let vault = Vault::new();
    sync_sealed(&app, &mac, &vault, "diary.md", 0, b"first day", 1).await;
    sync_sealed(&app, &mac, &vault, "diary.md", 1, b"second day", 2).await;
    let key = vault.key("diary.md").to_hex();

    // History by path key, newest first, each version with its own manifest.
    let history = app.history(&mac, &[("path_key", &key)]).await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    assert_eq!(history.body["path_key"], key);
    let versions = history.body["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], 2);
    assert_eq!(versions[0]["sealed"]["manifest_version"], 2);
    assert_eq!(versions[1]["sealed"]["manifest_version"], 1);
    let v1 = versions[1]["sealed"].clone();

    // Each mode's question to the other is refused; a bad key is a 400 with its code.
    let refused = app.history(&mac, &[("path", "diary.md")]).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.code(), "vault_encrypted");
    let bad = app.history(&mac, &[("path_key", "DIARY")]).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "invalid_path_key");
    let unknown = app.history(&mac, &[("path_key", &"ab".repeat(32))]).await;
    assert_eq!(unknown.status, 404);
    let plain = app.new_user_device("e2ee-recovery-plain").await;
    let refused = app.history(&plain, &[("path_key", &key)]).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.code(), "vault_not_encrypted");

    // Deleted, then listed with the sealed fields of what it deleted.
    let deleted = app
        .delete(
            &mac,
            json!({"files": [{"path_key": key, "base_version": 2}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let listed = app.deleted(&mac, &[]).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["encrypted"], true);
    let note = &listed.body["files"][0];
    assert_eq!(note["path_key"], key);
    assert_eq!(note["version"], 3);
    assert_eq!(note["sealed"]["manifest_version"], 2);
    assert_eq!(note["last_version"]["restorable"], true);

    // Restore version 1 on top of the tombstone: no bytes move, and the new version 4
    // carries version 1's sealed fields (its manifest opens at version 1).
    let objects = app.user_keys(mac.user_id).await.len();
    let restored = app
        .restore(
            &mac,
            json!({"files": [{"path_key": key, "version": 1, "base_version": 3}]}),
        )
        .await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    let r = &restored.body["restored"][0];
    assert_eq!(r["path_key"], key);
    assert_eq!(r["version"], 4);
    assert_eq!(r["restored_from"], 1);
    assert_eq!(r["sealed"], v1);
    assert_eq!(app.user_keys(mac.user_id).await.len(), objects);
    let state = app.state(&mac, &[]).await;
    assert_eq!(state.body["files"][0]["version"], 4);
    assert_eq!(state.body["files"][0]["sealed"], v1);

    // A plaintext restore body is refused; a stale base is a conflict with sealed fields.
    let refused = app
        .restore(
            &mac,
            json!({"files": [{"path": "diary.md", "version": 1, "base_version": 4}]}),
        )
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.code(), "vault_encrypted");
    let stale = app
        .restore(
            &mac,
            json!({"files": [{"path_key": key, "version": 2, "base_version": 3}]}),
        )
        .await;
    assert_eq!(
        stale.body["conflicts"][0]["server_version"], 4,
        "{:?}",
        stale.body
    );
    assert_eq!(stale.body["conflicts"][0]["sealed"], v1);
    let bad = app
        .restore(
            &mac,
            json!({"files": [{"path_key": "x", "version": 1, "base_version": 3}]}),
        )
        .await;
    assert_eq!(bad.body["rejected"][0]["code"], "invalid_path_key");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_rewind_of_an_encrypted_vault_copies_the_sealed_fields_and_knows_no_folders(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-rewind").await;
    let vault = Vault::new();
    sync_sealed(&app, &mac, &vault, "a.md", 0, b"then", 1).await;
    let then = app.state(&mac, &[]).await.body["files"][0]["sealed"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let as_of = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    sync_sealed(&app, &mac, &vault, "a.md", 1, b"now", 2).await;

    let folder = app
        .restore(&mac, json!({"as_of": as_of, "prefix": "notes"}))
        .await;
    assert_eq!(folder.status, 400, "{:?}", folder.body);
    assert_eq!(folder.code(), "invalid_request");
    let both = app
        .restore(
            &mac,
            json!({"as_of": as_of, "files": [{"path_key": vault.key("a.md").to_hex(),
                   "version": 1, "base_version": 2}]}),
        )
        .await;
    assert_eq!(both.status, 400);
    assert_eq!(both.code(), "invalid_request");

    let rewound = app.restore(&mac, json!({"as_of": as_of})).await;
    assert_eq!(rewound.status, 200, "{:?}", rewound.body);
    assert_eq!(rewound.body["encrypted"], true);
    assert_eq!(rewound.body["restored"], 1);
    let state = app.state(&mac, &[]).await;
    assert_eq!(state.body["files"][0]["version"], 3);
    assert_eq!(
        state.body["files"][0]["sealed"], then,
        "version 1's sealed fields"
    );
    assert!(
        app.drain_notices()
            .await
            .iter()
            .all(|n| n.get("paths").is_none()),
        "no notice names a note"
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_mass_delete_guard_counts_an_encrypted_vaults_notes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-mass").await;
    let vault = Vault::new();
    // 100 notes in one push, their PUTs, one confirm.
    let notes: Vec<(String, Vec<u8>)> = (0..100)
        .map(|i| (format!("n{i:03}.md"), format!("note {i}\n").into_bytes()))
        .collect();
    let blobs: Vec<_> = notes.iter().map(|(_, c)| vault.blob(c, 7)).collect();
    let entries: Vec<_> = (notes.iter().zip(&blobs))
        .map(|((p, _), b)| vault.push_entry(p, 0, b))
        .collect();
    let pushed = app.push(&mac, json!({ "files": entries })).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let uploads = pushed.body["uploads"].as_array().expect("uploads");
    assert_eq!(uploads.len(), 100);
    for (up, blob) in uploads.iter().zip(&blobs) {
        assert!(app.upload(up, &blob.bytes).await.status().is_success());
    }
    let confirms: Vec<_> = (notes.iter().zip(&blobs))
        .map(|((p, c), b)| vault.confirm_entry(p, 0, 1, b, c.len() as u64))
        .collect();
    let confirmed = app.confirm(&mac, json!({ "files": confirms })).await;
    assert_eq!(
        confirmed.body["confirmed"].as_array().map(Vec::len),
        Some(100)
    );

    // 60 of 100 notes at once: held, by count (the server knows no names), nothing written.
    let refs = |confirm: bool| {
        let files: Vec<_> = (notes[..60].iter())
            .map(|(p, _)| json!({"path_key": vault.key(p).to_hex(), "base_version": 1}))
            .collect();
        json!({"files": files, "confirm_mass_delete": confirm})
    };
    let held = app.delete(&mac, refs(false)).await;
    assert_eq!(
        (held.status, held.code()),
        (409, "mass_delete_held"),
        "{:?}",
        held.body
    );
    let details = &held.body["error"]["details"];
    assert_eq!(details["requested"], 60);
    assert_eq!(details["live"], 100);
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM file_state WHERE user_id = $1 AND NOT is_deleted")
            .bind(mac.user_id)
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(live, 100, "the held delete wrote nothing");

    // Confirmed by the person: 60 tombstones, each with the sealed fields it deleted.
    let done = app.delete(&mac, refs(true)).await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    let deleted = done.body["deleted"].as_array().expect("deleted");
    assert_eq!(deleted.len(), 60);
    assert!(
        deleted.iter().all(|t| t["sealed"].is_object()),
        "{deleted:?}"
    );
}
