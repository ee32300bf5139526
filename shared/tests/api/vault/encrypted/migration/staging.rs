//! Staging against a moving vault: a plaintext edit forces a new copy and is kept, a crash
//! anywhere resumes from the server's state, an abandon leaves a working plaintext vault,
//! and every bad entry gets its code.

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::ContentHash;

use super::super::super::{entry as file, sha256_hex};
use super::super::Vault;
use super::{call, collect, copy, opened_notes, stage_all, start, status, switch};
use crate::support::TestApp;
use crate::support::routes::Route;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_plaintext_edit_during_staging_forces_a_new_copy_and_is_kept(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("migrate-edit").await;
    let phone = app.another_device(mac.user_id, "phone").await;
    let vault = Vault::new();
    app.sync_up(&mac, "Shared.md", 0, b"before").await;
    assert_eq!(start(&app, &mac).await.status, 200);
    let staged = stage_all(&app, &mac, &[copy(&vault, "Shared.md", 1, b"before", 1)]).await;
    assert_eq!(staged["staged"][0]["version"], 1, "{staged:?}");

    // Another device, still plaintext, edits the note after it was staged.
    assert_eq!(
        app.sync_up(&phone, "Shared.md", 1, b"edited on the phone")
            .await,
        2
    );
    let refused = switch(&app, &mac).await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "migration_incomplete")
    );
    let s = status(&app, &mac).await;
    assert_eq!(s["missing"], json!([{"path": "Shared.md", "version": 2}]));
    // The old version's copy again: stale, with the version to stage instead.
    let stale = call(
        &app,
        Route::StageMigration,
        &mac,
        Some(json!({"files": [copy(&vault, "Shared.md", 1, b"before", 1).0]})),
    )
    .await;
    assert_eq!(
        stale.body["stale"],
        json!([{"path": "Shared.md", "version": 1, "current": 2}])
    );
    // A copy of a version the server never had is stale too.
    let ahead = call(
        &app,
        Route::StageMigration,
        &mac,
        Some(json!({"files": [copy(&vault, "Shared.md", 3, b"x", 1).0]})),
    )
    .await;
    assert_eq!(ahead.body["stale"][0]["current"], 2, "{:?}", ahead.body);

    let again = stage_all(
        &app,
        &mac,
        &[copy(&vault, "Shared.md", 2, b"edited on the phone", 2)],
    )
    .await;
    assert_eq!(again["staged"][0]["version"], 2, "{again:?}");
    assert_eq!(switch(&app, &mac).await.status, 200);
    assert_eq!(
        opened_notes(&app, &mac, &vault).await,
        [("Shared.md".to_owned(), b"edited on the phone".to_vec())]
    );
    // The phone, still plaintext, is told to unlock.
    let phone_push = app
        .push(
            &phone,
            json!({"files": [file("Shared.md", 2, b"late edit")]}),
        )
        .await;
    assert_eq!(
        (phone_push.status, phone_push.code()),
        (409, "vault_encrypted")
    );
    let phone_pull = app.pull(&phone, json!({"paths": ["Shared.md"]})).await;
    assert_eq!(
        (phone_pull.status, phone_pull.code()),
        (409, "vault_encrypted")
    );
    let phone_cursor = app.state(&phone, &[("cursor", "c2")]).await;
    assert_eq!(
        phone_cursor.status, 410,
        "an old cursor starts over: {:?}",
        phone_cursor.body
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_crash_anywhere_resumes_from_the_servers_state(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("migrate-crash").await;
    let vault = Vault::new();
    for i in 0..3 {
        app.sync_up(&mac, &format!("n{i}.md"), 0, format!("note {i}").as_bytes())
            .await;
    }
    assert_eq!(start(&app, &mac).await.status, 200);
    // Crash after one note was staged, and after another's upload but before its stage.
    stage_all(&app, &mac, &[copy(&vault, "n0.md", 1, b"note 0", 1)]).await;
    let (entry, bytes) = copy(&vault, "n1.md", 1, b"note 1", 2);
    let first = call(
        &app,
        Route::StageMigration,
        &mac,
        Some(json!({"files": [entry.clone()]})),
    )
    .await;
    let put = app.upload(&first.body["uploads"][0], &bytes).await;
    assert!(put.status().is_success());

    // The rerun reads what is left from the server and stages only that.
    let s = status(&app, &mac).await;
    assert_eq!(
        (s["live_notes"].as_i64(), s["staged"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(s["missing"].as_array().map(Vec::len), Some(2));
    let resumed = call(
        &app,
        Route::StageMigration,
        &mac,
        Some(json!({"files": [entry]})),
    )
    .await;
    assert_eq!(
        resumed.body["uploads"],
        json!([]),
        "the uploaded bytes are verified, not asked again"
    );
    assert_eq!(resumed.body["staged"][0]["path"], "n1.md");
    // Staging a note again replaces its copy.
    stage_all(
        &app,
        &mac,
        &[
            copy(&vault, "n0.md", 1, b"note 0", 3),
            copy(&vault, "n2.md", 1, b"note 2", 4),
        ],
    )
    .await;
    let staged: i64 = sqlx::query_scalar("SELECT count(*) FROM migration_staged")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(staged, 3);

    assert_eq!(switch(&app, &mac).await.status, 200);
    // A switch retried after a lost answer: the account is already encrypted.
    let retried = switch(&app, &mac).await;
    assert_eq!((retried.status, retried.code()), (409, "vault_encrypted"));
    let notes = opened_notes(&app, &mac, &vault).await;
    assert_eq!(notes.len(), 3);
    assert_eq!(notes[0], ("n0.md".to_owned(), b"note 0".to_vec()));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn abandoning_returns_to_a_working_plaintext_vault(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("migrate-abandon").await;
    let vault = Vault::new();
    app.sync_up(&mac, "Note.md", 0, b"plaintext").await;
    let nothing = call(&app, Route::AbandonMigration, &mac, None).await;
    assert_eq!((nothing.status, nothing.code()), (409, "not_migrating"));
    assert_eq!(start(&app, &mac).await.status, 200);
    let (entry, bytes) = copy(&vault, "Note.md", 1, b"plaintext", 1);
    stage_all(&app, &mac, &[(entry, bytes.clone())]).await;

    let abandoned = call(&app, Route::AbandonMigration, &mac, None).await;
    assert_eq!(abandoned.status, 200, "{:?}", abandoned.body);
    assert_eq!(abandoned.body["mode"], "plaintext");
    let keys = app.keys(&mac).await;
    assert_eq!(keys.body["slots"], json!([]));
    assert_eq!(keys.etag.as_deref(), Some("\"v0\""));
    let staged: i64 = sqlx::query_scalar("SELECT count(*) FROM migration_staged")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(staged, 0);
    // Plaintext sync goes on; stage and switch are refused.
    assert_eq!(app.sync_up(&mac, "Note.md", 1, b"plaintext again").await, 2);
    let stage = call(
        &app,
        Route::StageMigration,
        &mac,
        Some(json!({"files": []})),
    )
    .await;
    assert_eq!((stage.status, stage.code()), (409, "not_migrating"));
    // The staged ciphertext is unused: collected after its grace period.
    let cipher = steel_core::storage::blob_key(mac.user_id, &ContentHash::of(&bytes));
    assert!(app.user_keys(mac.user_id).await.contains(&cipher));
    collect(&app, &mac).await;
    assert!(!app.user_keys(mac.user_id).await.contains(&cipher));
    // And a new migration can start.
    assert_eq!(start(&app, &mac).await.status, 200);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_staged_copy_keeps_its_blob_and_every_bad_entry_gets_a_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("migrate-checks").await;
    let vault = Vault::new();
    app.sync_up(&mac, "A.md", 0, b"a").await;
    app.sync_up(&mac, "B.md", 0, b"b").await;
    assert_eq!(start(&app, &mac).await.status, 200);
    let (good, bytes) = copy(&vault, "A.md", 1, b"a", 1);
    stage_all(&app, &mac, &[(good.clone(), bytes.clone())]).await;
    // The janitor keeps a staged copy's blob, however late.
    collect(&app, &mac).await;
    let cipher = steel_core::storage::blob_key(mac.user_id, &ContentHash::of(&bytes));
    assert!(app.user_keys(mac.user_id).await.contains(&cipher));

    let with = |field: &str, value: Value| {
        let mut e = copy(&vault, "B.md", 1, b"b", 2).0;
        e[field] = value;
        e
    };
    let cases = [
        (with("path", json!("../x")), "invalid_path"),
        (with("version", json!(0)), "invalid_version"),
        (with("path_key", json!("XYZ")), "invalid_path_key"),
        (with("blob_id", json!("00")), "invalid_blob_id"),
        (with("content_hash", json!("nope")), "invalid_content_hash"),
        (with("size_bytes", json!(-1)), "invalid_size"),
        (
            with("sealed_path", json!("not base64!")),
            "invalid_sealed_field",
        ),
        (with("sealed_manifest", json!("")), "invalid_sealed_field"),
    ];
    for (entry, code) in cases {
        let answer = call(
            &app,
            Route::StageMigration,
            &mac,
            Some(json!({"files": [entry]})),
        )
        .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(
            answer.body["rejected"][0]["code"], code,
            "{:?}",
            answer.body
        );
        assert_eq!(answer.body["uploads"], json!([]));
    }
    // The same note twice, or the same path key for two notes.
    let twice = json!({"files": [good.clone(), good.clone()]});
    let answer = call(&app, Route::StageMigration, &mac, Some(twice)).await;
    assert_eq!(
        answer.body["rejected"][0]["code"], "duplicate_path",
        "{:?}",
        answer.body
    );
    let mut same_key = copy(&vault, "B.md", 1, b"b", 2).0;
    same_key["path_key"] = good["path_key"].clone();
    let answer = call(
        &app,
        Route::StageMigration,
        &mac,
        Some(json!({"files": [good, same_key]})),
    )
    .await;
    assert_eq!(
        answer.body["rejected"][0]["code"], "duplicate_path",
        "{:?}",
        answer.body
    );
    // A ciphertext the bucket holds with another size.
    let mut wrong = copy(&vault, "B.md", 1, b"a", 1).0;
    wrong["content_hash"] = json!(sha256_hex(&bytes));
    wrong["size_bytes"] = json!(bytes.len() + 1);
    let answer = call(
        &app,
        Route::StageMigration,
        &mac,
        Some(json!({"files": [wrong]})),
    )
    .await;
    assert_eq!(
        answer.body["rejected"][0]["code"], "content_mismatch",
        "{:?}",
        answer.body
    );
    // Not JSON of the shape: a 400 with a code, nothing staged.
    let bad = call(&app, Route::StageMigration, &mac, Some(json!({"files": 3}))).await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    let s = status(&app, &mac).await;
    assert_eq!(s["staged"], 1);
}
