//! A server that lies to an end-to-end encrypted account, through the API (issue 26's tamper
//! tests; the blob cases are in `encrypted`): the database is changed behind the backend's
//! back, as a compromised server could, and devices must notice and write nothing wrong.
//! - an old manifest served for a newer version (the manifest is bound to its version);
//! - another account's key slots handed to a device (same passphrase on both accounts, so
//!   the slot opens: the vault key it holds opens none of this account's notes).
//!
//! Not detectable, and documented in the README ("What the server still learns"): a server
//! that presents an older version as a restore of it (a restore copies its source's manifest
//! and manifest version, so a replayed one looks the same).

use steel_sync::SyncError;
use steel_sync::vault_key::Secret;

use super::common::{self, Device, PASSPHRASE, unique_user};

/// Runs `sql` on the local stack's database (psql, as the services set it up).
fn psql(sql: &str) -> String {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (set by the services)");
    let out = std::process::Command::new("psql")
        .args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn encrypted_pair(label: &str) -> (String, Device, Device) {
    let sub = unique_user(label);
    common::encrypted_account(&sub).await;
    let a = Device::opened(&sub, "laptop", None, Some(Secret::Passphrase(PASSPHRASE))).await;
    let b = Device::opened(&sub, "desktop", None, Some(Secret::Passphrase(PASSPHRASE))).await;
    (sub, a, b)
}

/// A sync that must stop on an authentication failure, naming what failed.
async fn refused(device: &mut Device, what: &str) {
    match device.syncer.sync().await {
        Err(SyncError::Tampered { why, .. }) => assert!(why.contains(what), "{what}: {why}"),
        other => panic!("{}: the lie went unnoticed: {other:?}", device.name),
    }
}

/// A new device of `sub`, unlocked with the passphrase, syncs the whole vault: refused
/// (`what` failed), and nothing written.
async fn a_new_device_is_refused(sub: &str, what: &str) {
    let secret = Some(Secret::Passphrase(PASSPHRASE));
    let mut c = Device::opened(sub, "new phone", None, secret).await;
    refused(&mut c, what).await;
    assert!(
        c.tree().is_empty(),
        "nothing written: {:?}",
        c.tree().keys()
    );
}

#[tokio::test]
async fn an_old_manifest_served_for_a_newer_version_is_refused_and_nothing_written() {
    let (sub, mut a, mut b) = encrypted_pair("tamper-manifest").await;
    a.write("thoughts/ledger.md", "first\n");
    a.sync().await;
    b.sync().await;
    a.write("thoughts/ledger.md", "second\n");
    a.sync().await;
    let user_id = a.syncer.api().session().await.user_id;
    // Version 2's manifest replaced by version 1's: the server claims v2 has v1's content.
    psql(&format!(
        "UPDATE file_versions v SET sealed_manifest = old.sealed_manifest \
           FROM file_versions old \
          WHERE v.user_id = '{user_id}' AND old.user_id = v.user_id AND old.path = v.path \
            AND old.version = 1 AND v.version = 2"
    ));
    refused(&mut b, "manifest").await;
    assert_eq!(b.read("thoughts/ledger.md").as_deref(), Some("first\n"));
    // A new device, reading the whole vault, is refused too and writes nothing.
    a_new_device_is_refused(&sub, "manifest").await;
}

#[tokio::test]
async fn another_accounts_key_slots_open_none_of_the_notes_and_nothing_is_written() {
    let (sub, mut a, _) = encrypted_pair("tamper-slots").await;
    a.write("thoughts/mine.md", "my note\n");
    a.sync().await;
    let victim = a.syncer.api().session().await.user_id;
    // Another account, with the same passphrase (its own vault key).
    let (_, mut other, _) = encrypted_pair("tamper-slots-other").await;
    other.write("thoughts/theirs.md", "their note\n");
    other.sync().await;
    let intruder = other.syncer.api().session().await.user_id;
    psql(&format!(
        "BEGIN; \
         DELETE FROM key_slots WHERE user_id = '{victim}'; \
         INSERT INTO key_slots (user_id, slot_id, position, kind, slot) \
           SELECT '{victim}', slot_id, position, kind, slot FROM key_slots WHERE user_id = '{intruder}'; \
         COMMIT;"
    ));
    // A new device of the victim unlocks with the passphrase: the slot opens (the other
    // account's key) and every note of this account fails to open with it.
    a_new_device_is_refused(&sub, "failed authentication").await;
}
