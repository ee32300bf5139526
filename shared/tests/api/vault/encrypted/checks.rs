//! What an encrypted account's notices leave out, and a code for every bad field.

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{Platform, PushEnvironment};
use steel_core::notifier::{self, Pushers};

use super::{Vault, b64, encrypted_account, sync_sealed};
use crate::support::apns::Apns;
use crate::support::events::sqs_event;
use crate::support::fcm::Fcm;
use crate::support::{TestApp, seed};

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_payload_of_an_encrypted_account_names_no_note(pool: PgPool) {
    let (apns, fcm) = (Apns::start().await, Fcm::start().await);
    let app = TestApp::spawn(pool.clone()).await;
    let mac = encrypted_account(&app, "e2ee-push").await;
    seed::device(
        &pool,
        mac.user_id,
        "iPhone",
        Platform::Ios,
        Some("phone-token"),
        PushEnvironment::Production,
    )
    .await;
    seed::device(
        &pool,
        mac.user_id,
        "Pixel",
        Platform::Android,
        Some("pixel-token"),
        PushEnvironment::Production,
    )
    .await;
    let vault = Vault::new();
    sync_sealed(&app, &mac, &vault, "canary-9c1e.md", 0, b"x", 1).await;

    let records = app.notice_records().await;
    assert_eq!(records.len(), 1);
    let key = vault.key("canary-9c1e.md").to_hex();
    for r in &records {
        let body = r.body.as_deref().unwrap_or_default();
        assert!(!body.contains("paths") && !body.contains(&key), "{body}");
    }
    let pushers = Pushers {
        apns: Some(apns.client.clone()),
        fcm: Some(fcm.client.clone()),
    };
    let response = notifier::handle_batch(&pool, &pushers, sqs_event(records)).await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    assert_eq!(pushes.len(), 1);
    let head = steel_core::db::files::current_cursor(&app.db, mac.user_id)
        .await
        .expect("cursor")
        .expect("user");
    assert_eq!(pushes[0].payload["cursor"], head.to_string());
    assert!(
        pushes[0].payload.get("paths").is_none(),
        "{:?}",
        pushes[0].payload
    );
    assert!(!pushes[0].payload.to_string().contains(&key));
    assert!(!pushes[0].payload.to_string().contains("canary"));
    let delivered = fcm.delivered();
    assert_eq!(delivered.len(), 1, "the Android device's push");
    let message = delivered[0].body.to_string();
    assert!(
        !message.contains("paths") && !message.contains(&key) && !message.contains("canary"),
        "{message}"
    );
    assert!(message.contains(&head.to_string()), "the cursor: {message}");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn every_bad_field_gets_a_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-bad").await;
    let vault = Vault::new();
    let blob = vault.blob(b"x", 1);
    let good = vault.confirm_entry("a.md", 0, 1, &blob, 1);
    let with = |field: &str, value: Value| {
        let mut e = good.clone();
        e[field] = value;
        e
    };
    let cases = [
        (with("path_key", json!("a.md")), "invalid_path_key"),
        (with("path_key", json!("AB".repeat(32))), "invalid_path_key"),
        (with("path_key", json!("ab".repeat(33))), "invalid_path_key"),
        (with("blob_id", json!("zz".repeat(32))), "invalid_blob_id"),
        (with("blob_id", json!("ab")), "invalid_blob_id"),
        (with("content_hash", json!("ab")), "invalid_content_hash"),
        (with("base_version", json!(-1)), "invalid_base_version"),
        (with("size_bytes", json!(-1)), "invalid_size"),
        (with("version", json!(0)), "invalid_version"),
        (with("sealed_path", json!("")), "invalid_sealed_field"),
        (
            with("sealed_path", json!("not base64!")),
            "invalid_sealed_field",
        ),
        (
            with("sealed_manifest", json!(b64(&[0; 2049]))),
            "invalid_sealed_field",
        ),
    ];
    for (entry, code) in cases {
        let answer = app.confirm(&mac, json!({"files": [entry.clone()]})).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        assert_eq!(
            answer.body["rejected"][0]["code"], code,
            "{entry:?}: {:?}",
            answer.body
        );
        assert_eq!(answer.body["rejected"][0]["path_key"], entry["path_key"]);
    }
    let mut push_entry = vault.push_entry("a.md", 0, &blob);
    push_entry["blob_id"] = json!("x");
    let answer = app.push(&mac, json!({"files": [push_entry]})).await;
    assert_eq!(answer.body["rejected"][0]["code"], "invalid_blob_id");

    // Whole-body errors: 400 with a code.
    for (body, code) in [
        (json!({"files": [{"path_key": 7}]}), "invalid_type"),
        (json!({"files": [{"path_key": "ab"}]}), "missing_field"),
    ] {
        let answer = app.confirm(&mac, body).await;
        assert_eq!(answer.status, 400, "{:?}", answer.body);
        assert_eq!(answer.code(), code);
    }
    let one = vault.push_entry("a.md", 0, &blob);
    let many: Vec<Value> = (0..1001).map(|_| one.clone()).collect();
    let answer = app.push(&mac, json!({"files": many})).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "too_many_files");
    let answer = app
        .pull(&mac, json!({"path_keys": ["ab"], "files": []}))
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), "invalid_request");
    let answer = app.pull(&mac, json!({"path_keys": ["ab", "AB"]})).await;
    assert_eq!(answer.body["rejected"][0]["code"], "invalid_path_key");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM file_versions")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(rows, 0, "nothing written");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_vault_with_notes_is_not_switched_to_encrypted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("e2ee-not-empty").await;
    app.sync_up(&mac, "plain.md", 0, b"plaintext note").await;
    let put = app
        .put_keys(&mac, Some("\"v0\""), super::slots_body())
        .await;
    assert_eq!(put.status, 409, "{:?}", put.body);
    assert_eq!(put.code(), "vault_not_empty");
    assert_eq!(app.keys(&mac).await.body["encrypted"], false);
    // Still a plaintext vault: its sync goes on.
    assert_eq!(app.sync_up(&mac, "plain.md", 1, b"edited").await, 2);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_commit_rereads_the_accounts_mode_under_its_lock(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("e2ee-race").await;
    let proposal = steel_core::vault::rules::Proposal {
        path: steel_core::domain::VaultPath::parse("late.md").expect("path"),
        base: steel_core::domain::Version::NONE,
        content: steel_core::vault::rules::Content {
            hash: steel_core::domain::ContentHash::of(b"late"),
            size: 4,
        },
    };
    steel_core::db::blobs::mark_verified(&app.db, mac.user_id, &[(proposal.content.hash, 4)])
        .await
        .expect("blob");
    // The account becomes encrypted after a plaintext confirm checked its mode.
    let put = app
        .put_keys(&mac, Some("\"v0\""), super::slots_body())
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let refused = steel_core::db::writes::commit_versions(
        &app.db,
        mac.user_id,
        Some(mac.device_id),
        &[proposal],
        u64::MAX,
    )
    .await;
    assert!(
        matches!(refused, Err(steel_core::db::WriteError::ModeChanged(true))),
        "{refused:?}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM file_state")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(rows, 0);
}
