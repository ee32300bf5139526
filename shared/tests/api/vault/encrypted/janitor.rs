//! The janitor on an encrypted account, unchanged in what it keeps: two devices encrypting
//! the same note at once upload two ciphertexts of one blob id; the version keeps one, and
//! the other is collected like any unused blob.

use chrono::{TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use steel_core::domain::ContentHash;
use steel_core::janitor;

use super::{Vault, encrypted_account};
use crate::janitor::{BUDGET, janitor_for};
use crate::support::TestApp;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn of_two_ciphertexts_of_one_note_the_unused_one_is_collected(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = encrypted_account(&app, "e2ee-janitor").await;
    let phone = app.another_device(mac.user_id, "Phone").await;
    let vault = Vault::new();
    let content = b"# the same note, typed on both\n";
    let (ours, theirs) = (vault.blob(content, 1), vault.blob(content, 2));
    assert_eq!(ours.id, theirs.id, "one blob id");
    assert_ne!(ours.bytes, theirs.bytes, "two ciphertexts");

    // Both push before either confirms: neither ciphertext is verified yet, so both upload.
    let mut uploads = Vec::new();
    for (dev, blob) in [(&mac, &ours), (&phone, &theirs)] {
        let pushed = app
            .push(dev, json!({"files": [vault.push_entry("n.md", 0, blob)]}))
            .await;
        assert_eq!(pushed.status, 200, "{:?}", pushed.body);
        let up = pushed.body["uploads"][0].clone();
        let put = app.upload(&up, &blob.bytes).await;
        assert!(put.status().is_success(), "PUT {}", put.status());
        uploads.push(up);
    }
    let size = content.len() as u64;
    let confirm = |blob| json!({"files": [vault.confirm_entry("n.md", 0, 1, blob, size)]});
    let first = app.confirm(&mac, confirm(&ours)).await;
    assert_eq!(first.body["confirmed"][0]["version"], 1, "{:?}", first.body);
    // The phone's confirm is stale: a conflict naming the mac's version, nothing written.
    let second = app.confirm(&phone, confirm(&theirs)).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["confirmed"], json!([]), "{:?}", second.body);
    assert_eq!(second.body["conflicts"][0]["server_version"], 1);

    let key = |bytes: &[u8]| steel_core::storage::blob_key(mac.user_id, &ContentHash::of(bytes));
    let mut both = vec![key(&ours.bytes), key(&theirs.bytes)];
    both.sort();
    let mut stored = app.user_keys(mac.user_id).await;
    stored.sort();
    assert_eq!(stored, both, "both ciphertexts were uploaded");

    let report = janitor::run(
        &janitor_for(&app, mac.user_id),
        Utc::now() + TimeDelta::hours(25),
        BUDGET,
    )
    .await
    .expect("janitor run");
    assert_eq!(
        report.blobs_collected + report.orphans_deleted,
        1,
        "{report:?}"
    );
    assert_eq!(
        app.user_keys(mac.user_id).await,
        vec![key(&ours.bytes)],
        "the version's ciphertext stays, the other goes"
    );
    // The note still reads back: the pull's URL is the kept ciphertext's.
    let pulled = app
        .pull(&mac, json!({"path_keys": [vault.key("n.md").to_hex()]}))
        .await;
    assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    assert_eq!(
        pulled.body["files"][0]["content_hash"],
        ContentHash::of(&ours.bytes).to_hex()
    );
}
