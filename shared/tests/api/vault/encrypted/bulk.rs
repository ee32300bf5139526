//! Bulk upload of an end-to-end encrypted account: a pack of ciphertext blobs, confirmed
//! with the sealed confirm entries, commits exactly as the per-note sealed confirm does
//! (path keys, sealed fields, dedupe by blob id, stale base a conflict); a pack whose bytes
//! are not its index's commits nothing; each mode's bulk body is refused by the other.

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_crypto::{EncryptedBlob, decrypt_blob};

use super::super::sha256_hex;
use super::{Vault, encrypted_account, sync_sealed};
use crate::bulk::{incoming_exists, pack_of, upload_pack};
use crate::support::{TestApp, TestDevice};

/// New notes `n{i}.md` of `contents`, encrypted (seed `10 + i`): their blobs and the
/// sealed push entries from base 0.
fn sealed_notes(vault: &Vault, contents: &[&[u8]]) -> (Vec<EncryptedBlob>, Value) {
    let blobs: Vec<EncryptedBlob> = (contents.iter().enumerate())
        .map(|(i, c)| vault.blob(c, 10 + u8::try_from(i).expect("few notes")))
        .collect();
    let entries = (blobs.iter().enumerate())
        .map(|(i, b)| vault.push_entry(&format!("n{i}.md"), 0, b))
        .collect();
    (blobs, Value::Array(entries))
}

/// The confirm entries of the notes a push answered `uploads` for (in push order).
fn confirm_entries(
    vault: &Vault,
    blobs: &[EncryptedBlob],
    contents: &[&[u8]],
    uploads: &Value,
) -> Value {
    let entries = (blobs.iter().zip(contents).enumerate())
        .map(|(i, (b, c))| {
            let version = uploads[i]["version"].as_i64().expect("version");
            vault.confirm_entry(&format!("n{i}.md"), 0, version, b, c.len() as u64)
        })
        .collect();
    Value::Array(entries)
}

async fn rows(app: &TestApp, sql: &str, dev: &TestDevice) -> i64 {
    sqlx::query_scalar(sql)
        .bind(dev.user_id)
        .fetch_one(&app.db)
        .await
        .expect("count")
}

async fn versions(app: &TestApp, dev: &TestDevice) -> i64 {
    rows(
        app,
        "SELECT count(*) FROM file_state WHERE user_id = $1",
        dev,
    )
    .await
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn ciphertext_blobs_go_up_in_one_pack_and_commit_as_the_sealed_confirm_does(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-bulk").await;
    let vault = Vault::new();
    let contents: [&[u8]; 4] = [
        b"canary-b1 alpha",
        b"canary-b2 beta",
        b"",
        b"canary-b4 delta",
    ];
    let (blobs, push) = sealed_notes(&vault, &contents);
    // As the client pushes a batch it may upload as a pack: no URLs (`presign=false`).
    let pushed = (app.push_query(&mac, &[("presign", "false")], json!({"files": push}))).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let uploads = &pushed.body["uploads"];
    assert!(
        (uploads.as_array().expect("uploads").iter())
            .all(|u| u["upload_url"].is_null() && u["deferred"] == json!(true)),
        "{uploads:?}"
    );
    let grants = "SELECT count(*) FROM upload_grants WHERE user_id = $1";
    assert_eq!(rows(&app, grants, &mac).await, 0, "no URL, no grant");
    // Any other value of presign: 400, nothing handed out.
    let bad = (app.push_query(&mac, &[("presign", "maybe")], json!({"files": push}))).await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert_eq!(bad.body["error"]["code"], "invalid_request");
    let ciphertexts: Vec<&[u8]> = blobs.iter().map(|b| b.bytes.as_slice()).collect();
    let (pack, index) = pack_of(&ciphertexts);
    assert!(
        !String::from_utf8_lossy(&pack).contains("canary"),
        "the pack is ciphertext"
    );
    let pack_id = upload_pack(&app, &mac, &pack).await;
    let files = confirm_entries(&vault, &blobs, &contents, uploads);
    let body = json!({"pack_id": pack_id, "blobs": index, "files": files});
    let confirmed = app.bulk_confirm(&mac, body.clone()).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let agreed = confirmed.body["confirmed"].as_array().expect("confirmed");
    assert_eq!(agreed.len(), 4, "{:?}", confirmed.body);
    for (i, v) in agreed.iter().enumerate() {
        assert_eq!(v["path_key"], vault.key(&format!("n{i}.md")).to_hex());
        assert_eq!(v["content_hash"], sha256_hex(&blobs[i].bytes));
        assert!(v.get("path").is_none());
    }
    assert_eq!(confirmed.body["missing"], json!([]));
    assert_eq!(versions(&app, &mac).await, 4);
    // Each ciphertext at its own key; the incoming pack gone; sizes count ciphertext.
    let keys = app.user_keys(mac.user_id).await;
    for b in &blobs {
        assert!(
            keys.iter().any(|k| k.ends_with(&sha256_hex(&b.bytes))),
            "{keys:?}"
        );
    }
    assert!(!incoming_exists(&app, mac.user_id, &pack_id).await);
    let size: i64 = rows(&app, "SELECT vault_size FROM users WHERE id = $1", &mac).await;
    assert_eq!(
        size,
        ciphertexts.iter().map(|c| c.len() as i64).sum::<i64>()
    );
    // The state carries the sealed fields as sent; the bytes decrypt to the note.
    let state = app.state(&mac, &[]).await;
    let n1 = vault.key("n1.md").to_hex();
    let listed = (state.body["files"].as_array().expect("files").iter())
        .find(|f| f["path_key"] == n1)
        .expect("n1 listed")
        .clone();
    assert_eq!(
        listed["sealed"]["sealed_manifest"],
        files[1]["sealed_manifest"]
    );
    let pulled = app.pull(&mac, json!({"path_keys": [n1]})).await;
    let bytes = app.download(&pulled.body["files"][0]["download_url"]).await;
    assert_eq!(
        decrypt_blob(&vault.keys, &blobs[1].id, &bytes).expect("decrypts"),
        contents[1]
    );
    // One change notice, naming no path (not even a path key).
    let notices = app.drain_notices().await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].get("paths").is_none_or(Value::is_null),
        "{notices:?}"
    );
    assert!(!notices[0].to_string().contains(&n1));

    // The answer was lost: the same bulk confirm finds the pack closed, and the per-note
    // confirm of the same entries answers them confirmed, writing nothing twice.
    let again = app.bulk_confirm(&mac, body).await;
    assert_eq!(
        (again.status, again.code()),
        (404, "pack_not_found"),
        "{:?}",
        again.body
    );
    let retried = app.confirm(&mac, json!({"files": files})).await;
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert_eq!(
        retried.body["confirmed"].as_array().map(Vec::len),
        Some(4),
        "{:?}",
        retried.body
    );
    assert_eq!(versions(&app, &mac).await, 4);
    let versions_rows = rows(
        &app,
        "SELECT count(*) FROM file_versions WHERE user_id = $1",
        &mac,
    )
    .await;
    assert_eq!(versions_rows, 4);
    assert!(app.drain_notices().await.is_empty(), "a retry is no news");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_ciphertext_pack_whose_bytes_do_not_match_its_index_commits_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-bulk-mismatch").await;
    let vault = Vault::new();
    let contents: [&[u8]; 3] = [b"one", b"two", b"three"];
    let (blobs, push) = sealed_notes(&vault, &contents);
    let pushed = app.push(&mac, json!({"files": push})).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let ciphertexts: Vec<&[u8]> = blobs.iter().map(|b| b.bytes.as_slice()).collect();
    let (mut pack, index) = pack_of(&ciphertexts);
    // One flipped byte in the second blob (the pack's own checksum is right: S3 takes it).
    let at = blobs[0].bytes.len() + 1;
    pack[at] ^= 1;
    let pack_id = upload_pack(&app, &mac, &pack).await;
    let files = confirm_entries(&vault, &blobs, &contents, &pushed.body["uploads"]);
    let refused = app
        .bulk_confirm(
            &mac,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (400, "pack_mismatch"),
        "{:?}",
        refused.body
    );
    assert_eq!(versions(&app, &mac).await, 0, "no version");
    assert_eq!(
        rows(&app, "SELECT count(*) FROM blobs WHERE user_id = $1", &mac).await,
        0
    );
    assert!(
        app.user_keys(mac.user_id).await.is_empty(),
        "no blob written"
    );
    assert!(
        !incoming_exists(&app, mac.user_id, &pack_id).await,
        "pack deleted"
    );
    assert!(app.drain_notices().await.is_empty());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_stale_base_is_a_conflict_and_a_known_blob_id_needs_no_bytes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-bulk-stale").await;
    let phone = app.another_device(mac.user_id, "phone").await;
    let vault = Vault::new();
    // The phone wrote n0.md first (this device's base 0 is stale), and holds "shared".
    sync_sealed(&app, &phone, &vault, "n0.md", 0, b"theirs", 1).await;
    let (held, _) = sync_sealed(&app, &phone, &vault, "held.md", 0, b"shared", 2).await;
    let objects = app.user_keys(mac.user_id).await.len();
    app.drain_notices().await;

    // n0.md (stale), n1.md (new bytes, in the pack), n2.md = "shared" encrypted again
    // (another ciphertext, in no pack: its blob id is known), n3.md (in no pack, unknown).
    let contents: [&[u8]; 4] = [b"mine", b"fresh", b"shared", b"never sent"];
    let (blobs, _) = sealed_notes(&vault, &contents);
    let (pack, index) = pack_of(&[blobs[0].bytes.as_slice(), blobs[1].bytes.as_slice()]);
    let pack_id = upload_pack(&app, &mac, &pack).await;
    let files: Vec<Value> = (blobs.iter().zip(contents).enumerate())
        .map(|(i, (b, c))| vault.confirm_entry(&format!("n{i}.md"), 0, 1, b, c.len() as u64))
        .collect();
    let answer = app
        .bulk_confirm(
            &mac,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let key = |i: usize| vault.key(&format!("n{i}.md")).to_hex();
    let conflict = &answer.body["conflicts"][0];
    assert_eq!(conflict["path_key"], key(0), "{:?}", answer.body);
    assert_eq!(conflict["server_version"], 1);
    assert_eq!(
        conflict["sealed"]["manifest_version"], 1,
        "the server's sealed fields"
    );
    let confirmed = answer.body["confirmed"].as_array().expect("confirmed");
    assert_eq!(confirmed.len(), 2, "{:?}", answer.body);
    assert_eq!(confirmed[0]["path_key"], key(1));
    assert_eq!(confirmed[1]["path_key"], key(2));
    assert_eq!(
        confirmed[1]["content_hash"], held["content_hash"],
        "the stored ciphertext"
    );
    assert_eq!(answer.body["missing"][0]["path_key"], key(3));
    assert_eq!(answer.body["missing"][0]["code"], "not_uploaded");
    // The phone's n0.md is untouched; two blobs of the pack were written, nothing else.
    let pulled = app.pull(&mac, json!({"path_keys": [key(0)]})).await;
    let bytes = app.download(&pulled.body["files"][0]["download_url"]).await;
    assert_eq!(
        decrypt_blob(&vault.keys, &vault.blob(b"theirs", 1).id, &bytes).expect("opens"),
        b"theirs"
    );
    assert_eq!(app.user_keys(mac.user_id).await.len(), objects + 2);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn each_mode_refuses_the_other_modes_bulk_confirm_and_the_pack_stays_open(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let vault = Vault::new();
    let blob = vault.blob(b"x", 1);
    let (pack, index) = pack_of(&[blob.bytes.as_slice()]);
    let sealed_files = json!([vault.confirm_entry("a.md", 0, 1, &blob, 1)]);
    let plain_files = json!([{"path": "a.md", "base_version": 0,
        "content_hash": sha256_hex(&blob.bytes), "size_bytes": blob.bytes.len()}]);

    let enc = encrypted_account(&app, "e2ee-bulk-mode").await;
    let pushed = app
        .push(&enc, json!({"files": [vault.push_entry("a.md", 0, &blob)]}))
        .await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let pack_id = upload_pack(&app, &enc, &pack).await;
    let plain = app
        .bulk_confirm(
            &enc,
            json!({"pack_id": pack_id, "blobs": index, "files": plain_files}),
        )
        .await;
    assert_eq!(
        (plain.status, plain.code()),
        (409, "vault_encrypted"),
        "{:?}",
        plain.body
    );

    let plain_user = app.new_user_device("e2ee-bulk-plain").await;
    let plain_pack = upload_pack(&app, &plain_user, &pack).await;
    let sealed = app
        .bulk_confirm(
            &plain_user,
            json!({"pack_id": plain_pack, "blobs": index, "files": sealed_files}),
        )
        .await;
    assert_eq!(
        (sealed.status, sealed.code()),
        (409, "vault_not_encrypted"),
        "{:?}",
        sealed.body
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM file_state")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(rows, 0, "nothing written");
    assert!(app.user_keys(enc.user_id).await.is_empty(), "no blob split");

    // Both packs are still open: the body of the right mode commits each.
    let right = app
        .bulk_confirm(
            &enc,
            json!({"pack_id": pack_id, "blobs": index, "files": sealed_files}),
        )
        .await;
    assert_eq!(right.status, 200, "{:?}", right.body);
    assert_eq!(
        right.body["confirmed"][0]["path_key"],
        vault.key("a.md").to_hex()
    );
    let right = app
        .bulk_confirm(
            &plain_user,
            json!({"pack_id": plain_pack, "blobs": index, "files": plain_files}),
        )
        .await;
    assert_eq!(right.status, 200, "{:?}", right.body);
    assert_eq!(right.body["confirmed"][0]["path"], "a.md");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_ciphertext_pack_is_kept_and_answers_a_packs_request(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-bulk-kept").await;
    let vault = Vault::new();
    let contents: [&[u8]; 3] = [b"canary-k1 one", b"canary-k2 two", b"canary-k3 three"];
    let (blobs, push) = sealed_notes(&vault, &contents);
    let pushed = app.push(&mac, json!({"files": push})).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let ciphertexts: Vec<&[u8]> = blobs.iter().map(|b| b.bytes.as_slice()).collect();
    let (pack, index) = pack_of(&ciphertexts);
    let pack_id = upload_pack(&app, &mac, &pack).await;
    let files = confirm_entries(&vault, &blobs, &contents, &pushed.body["uploads"]);
    let confirmed = app
        .bulk_confirm(
            &mac,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    // A second device asks for the ciphertexts the state lists: the kept pack, whose
    // bytes are the uploaded ciphertexts (nothing the server did not hold already).
    let hashes: Vec<String> = blobs.iter().map(|b| sha256_hex(&b.bytes)).collect();
    let answer = app.packs(&mac, json!({ "hashes": hashes })).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let listed = answer.body["packs"].as_array().expect("packs");
    assert_eq!(listed.len(), 1, "{:?}", answer.body);
    let url = listed[0]["download_url"].as_str().expect("URL");
    assert!(
        url.split('?')
            .next()
            .unwrap_or(url)
            .ends_with(&format!("packs/{}/{pack_id}", mac.user_id)),
        "{url}"
    );
    assert_eq!(listed[0]["blobs"], index);
    let bytes = app.download(&listed[0]["download_url"]).await;
    assert_eq!(bytes, pack);
    let at = blobs[0].bytes.len();
    let second = &bytes[at..at + blobs[1].bytes.len()];
    assert_eq!(
        decrypt_blob(&vault.keys, &blobs[1].id, second).expect("decrypts"),
        contents[1]
    );
}
