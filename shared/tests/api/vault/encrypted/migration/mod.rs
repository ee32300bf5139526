//! Turning encryption on for a vault that has notes (`/vault/migration`, README "Turning
//! encryption on for an existing vault"): start, stage through the upload allowance, switch
//! in one step; a plaintext edit during staging forces a new copy and is never lost; a
//! crash anywhere resumes from the server's state; an abandoned migration leaves a working
//! plaintext vault; after the switch (and the janitor's collection) no plaintext name or
//! content is left in the database or the bucket.

mod staging;

use aws_lambda_events::http::HeaderValue;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{ContentHash, Version};
use steel_core::janitor;
use steel_crypto::{Manifest, PathKey, decrypt_blob};

use super::super::entry as file;
use super::{Vault, slots_body, unb64};
use crate::janitor::{BUDGET, janitor_for};
use crate::support::events::event;
use crate::support::routes::Route;
use crate::support::{Answer, TestApp, TestDevice};

pub(super) async fn call(
    app: &TestApp,
    route: Route,
    dev: &TestDevice,
    body: Option<Value>,
) -> Answer {
    Box::pin(app.send(event(route, &[], Some(&dev.token), body.as_ref()))).await
}

/// `POST /vault/migration` with the first slots and `If-Match: "v0"`.
pub(super) async fn start(app: &TestApp, dev: &TestDevice) -> Answer {
    start_with(app, dev, &slots_body()).await
}

/// `POST /vault/migration` from `"v0"` with these slots.
async fn start_with(app: &TestApp, dev: &TestDevice, slots: &Value) -> Answer {
    let mut e = event(Route::StartMigration, &[], Some(&dev.token), Some(slots));
    e.headers
        .insert("if-match", HeaderValue::from_static("\"v0\""));
    Box::pin(app.send(e)).await
}

pub(super) async fn status(app: &TestApp, dev: &TestDevice) -> Value {
    let answer = call(app, Route::Migration, dev, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

pub(super) async fn switch(app: &TestApp, dev: &TestDevice) -> Answer {
    call(app, Route::SwitchMigration, dev, None).await
}

/// The stage entry of the encrypted copy of `path` at plaintext `version`.
pub(super) fn copy(
    vault: &Vault,
    path: &str,
    version: i64,
    content: &[u8],
    seed: u8,
) -> (Value, Vec<u8>) {
    let blob = vault.blob(content, seed);
    // Sealed as the version it encrypts: the note keeps its number through the switch.
    let mut e = vault.confirm_entry(path, 0, version, &blob, content.len() as u64);
    let e_obj = e.as_object_mut().expect("object");
    e_obj.remove("base_version");
    e_obj.insert("path".into(), json!(path));
    e_obj.insert("version".into(), json!(version));
    (e, blob.bytes)
}

/// Stages `copies`: a first request hands out the uploads, the PUTs follow, and the same
/// request again stages them. The second answer.
pub(super) async fn stage_all(
    app: &TestApp,
    dev: &TestDevice,
    copies: &[(Value, Vec<u8>)],
) -> Value {
    let body = json!({"files": copies.iter().map(|c| c.0.clone()).collect::<Vec<_>>()});
    let first = call(app, Route::StageMigration, dev, Some(body.clone())).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    for up in first.body["uploads"].as_array().expect("uploads") {
        let (_, bytes) = copies
            .iter()
            .find(|c| c.0["path"] == up["path"])
            .expect("an upload of a staged note");
        let put = app.upload(up, bytes).await;
        assert!(put.status().is_success(), "PUT {}", put.status());
    }
    let second = call(app, Route::StageMigration, dev, Some(body)).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    second.body
}

/// The account's notes as the encrypted state hands them out, opened: path → content.
pub(super) async fn opened_notes(
    app: &TestApp,
    dev: &TestDevice,
    vault: &Vault,
) -> Vec<(String, Vec<u8>)> {
    let state = app.state(dev, &[]).await;
    assert_eq!(state.status, 200, "{:?}", state.body);
    assert_eq!(state.body["encrypted"], true, "{:?}", state.body);
    let mut out = Vec::new();
    for f in state.body["files"].as_array().expect("files") {
        let key = PathKey::from_hex(f["path_key"].as_str().expect("key")).expect("key");
        let version = f["version"].as_i64().expect("version");
        let manifest = Manifest::open(
            &vault.keys,
            &key,
            Version::from_json(&serde_json::Number::from(version)).expect("v"),
            &unb64(&f["sealed"]["sealed_manifest"]),
        )
        .expect("the manifest opens at the note's version");
        let pulled = app.pull(dev, json!({"path_keys": [key.to_hex()]})).await;
        let bytes = app.download(&pulled.body["files"][0]["download_url"]).await;
        let plain = decrypt_blob(&vault.keys, &manifest.blob_id, &bytes).expect("decrypts");
        out.push((manifest.path.as_str().to_owned(), plain));
    }
    out.sort();
    out
}

/// The janitor's run a day and an hour from now: past the blobs' grace period.
pub(super) async fn collect(app: &TestApp, dev: &TestDevice) {
    let later = Utc::now() + TimeDelta::hours(25);
    Box::pin(janitor::run(&janitor_for(app, dev.user_id), later, BUDGET))
        .await
        .expect("janitor");
}

/// A `pg_dump --data-only` of the test's database.
async fn dump(app: &TestApp) -> Vec<u8> {
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&app.db)
        .await
        .expect("name");
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (url, query) = url.split_once('?').unwrap_or((&url, ""));
    let (server, _) = url.rsplit_once('/').expect("a database in DATABASE_URL");
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let out = std::process::Command::new("pg_dump")
        .args([
            "--data-only",
            "--no-owner",
            &format!("{server}/{name}{query}"),
        ])
        .output()
        .expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 1000, "an empty dump proves nothing");
    out.stdout
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_vault_with_history_and_tombstones_turns_encrypted_and_keeps_no_plaintext(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("migrate-full").await;
    let vault = Vault::new();
    let plan = "Canary-Folder-q81/Plan canary-n4m.md";
    app.sync_up(&mac, plan, 0, b"first canary-c9x draft").await;
    assert_eq!(
        app.sync_up(&mac, plan, 1, b"second canary-c9x draft").await,
        2
    );
    app.sync_up(&mac, "Keep.md", 0, b"kept canary-k2w").await;
    app.sync_up(&mac, "Old canary-t7d.md", 0, b"deleted canary-d3z")
        .await;
    let deleted = app
        .delete(
            &mac,
            json!({"files": [{"path": "Old canary-t7d.md", "base_version": 1}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);

    // Before a migration there is nothing to stage or switch.
    let early = switch(&app, &mac).await;
    assert_eq!((early.status, early.code()), (409, "not_migrating"));
    // PUT /vault/keys still refuses a vault with notes; POST /vault/migration starts.
    let put = app.put_keys(&mac, Some("\"v0\""), slots_body()).await;
    assert_eq!(put.code(), "vault_not_empty");
    let started = start(&app, &mac).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(started.body["migrating"], true);
    assert_eq!(started.body["encrypted"], false);
    assert_eq!(started.etag.as_deref(), Some("\"v1\""));
    let keys = app.keys(&mac).await;
    assert_eq!(
        (&keys.body["migrating"], &keys.body["encrypted"]),
        (&json!(true), &json!(false))
    );
    // The same start again (its answer lost) finds its own result; another start from
    // "v0" (other slots) is stale. Neither changes anything.
    let again = start(&app, &mac).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.etag.as_deref(), Some("\"v1\""));
    let other = super::slots_body_with(2);
    let stale = start_with(&app, &mac, &other).await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    assert_eq!(app.keys(&mac).await.body, keys.body);

    // Still plaintext for every other route.
    let state = app.state(&mac, &[]).await;
    assert_eq!(
        state.body["files"][1]["path"], "Keep.md",
        "{:?}",
        state.body
    );
    assert_eq!(
        app.sync_up(&mac, "Keep.md", 1, b"kept canary-k2w v2").await,
        2
    );
    let s = status(&app, &mac).await;
    assert_eq!(s["mode"], "migrating");
    assert_eq!(
        (s["live_notes"].as_i64(), s["staged"].as_i64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        s["missing"][0],
        json!({"path": "Canary-Folder-q81/Plan canary-n4m.md", "version": 2})
    );
    let refused = switch(&app, &mac).await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "migration_incomplete")
    );

    let copies = [
        copy(&vault, plan, 2, b"second canary-c9x draft", 1),
        copy(&vault, "Keep.md", 2, b"kept canary-k2w v2", 2),
    ];
    let staged = stage_all(&app, &mac, &copies).await;
    assert_eq!(
        staged["staged"].as_array().map(Vec::len),
        Some(2),
        "{staged:?}"
    );
    assert_eq!(staged["uploads"], json!([]));
    let s = status(&app, &mac).await;
    assert_eq!((s["staged"].as_i64(), &s["missing"]), (Some(2), &json!([])));

    let notices_before = app.drain_notices().await.len();
    let switched = switch(&app, &mac).await;
    assert_eq!(switched.status, 200, "{:?}", switched.body);
    assert_eq!(switched.body["notes"], 2);
    let notices = app.drain_notices().await;
    assert!(
        notices_before > 0 && !notices.is_empty(),
        "the switch is announced"
    );
    assert!(notices.iter().all(|n| n["paths"].is_null()), "{notices:?}");
    assert_eq!(status(&app, &mac).await["mode"], "encrypted");
    let keys = app.keys(&mac).await;
    assert_eq!(
        (&keys.body["migrating"], &keys.body["encrypted"]),
        (&json!(false), &json!(true))
    );

    // The notes, opened: the current versions, nothing else (history and tombstone gone).
    assert_eq!(
        opened_notes(&app, &mac, &vault).await,
        [
            (plan.to_owned(), b"second canary-c9x draft".to_vec()),
            ("Keep.md".to_owned(), b"kept canary-k2w v2".to_vec()),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM file_versions")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(versions, 2, "one version per note");
    let deleted = app.deleted(&mac, &[]).await;
    assert_eq!(deleted.body["files"], json!([]), "{:?}", deleted.body);
    // A plaintext body is refused from now on.
    let late = app
        .push(&mac, json!({"files": [file("Keep.md", 2, b"late")]}))
        .await;
    assert_eq!((late.status, late.code()), (409, "vault_encrypted"));

    let dump = dump(&app).await;
    for canary in [
        "canary-q81",
        "canary-n4m",
        "canary-c9x",
        "canary-k2w",
        "canary-t7d",
        "canary-d3z",
        "Keep.md",
    ] {
        assert!(!holds(&dump, canary), "{canary} in the database dump");
    }

    // The plaintext blobs are unused now: the janitor's collection deletes them once their
    // grace period is over; the ciphertexts stay.
    let plaintext: Vec<String> = [
        &b"first canary-c9x draft"[..],
        b"second canary-c9x draft",
        b"kept canary-k2w",
        b"kept canary-k2w v2",
        b"deleted canary-d3z",
    ]
    .iter()
    .map(|b| steel_core::storage::blob_key(mac.user_id, &ContentHash::of(b)))
    .collect();
    let before = app.user_keys(mac.user_id).await;
    assert!(plaintext.iter().all(|k| before.contains(k)), "{before:?}");
    collect(&app, &mac).await;
    let mut after = app.user_keys(mac.user_id).await;
    after.sort();
    let mut ciphertexts: Vec<String> = copies
        .iter()
        .map(|c| steel_core::storage::blob_key(mac.user_id, &ContentHash::of(&c.1)))
        .collect();
    ciphertexts.sort();
    assert_eq!(after, ciphertexts, "only the ciphertexts are left");
}
