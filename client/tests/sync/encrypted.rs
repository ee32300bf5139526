//! End-to-end encrypted vaults through the local stack (issue 26): devices of one fresh
//! encrypted account (set up with the key slots API, the cheapest passphrase KDF every
//! reader accepts) converge through edits, deletes, renames and a merge; a second device
//! unlocks with the passphrase, a third with the recovery code; a device without the key
//! refuses to sync; a blob changed behind S3's back is reported and nothing of it written;
//! and no canary of a note's name or content reaches the database, the bucket, the change
//! notices or the logs, through edits, a merge, renames, deletes, history, restore and rewind.

use std::path::PathBuf;

use steel_crypto::RecoveryCode;
use steel_sync::vault_key::Secret;

use super::common::{self, Device, PASSPHRASE, hashes, server_files, unique_user};

/// A fresh account made end-to-end encrypted: its user and recovery code.
async fn encrypted_account(label: &str) -> (String, RecoveryCode) {
    let sub = unique_user(label);
    let code = common::encrypted_account(&sub).await;
    (sub, code)
}

/// A device of `sub` that opens the vault with `secret`.
async fn device(sub: &str, name: &str, secret: Secret<'_>) -> Device {
    Device::opened(sub, name, None, Some(secret)).await
}

fn assert_same(a: &Device, b: &Device) {
    assert_eq!(a.tree(), b.tree(), "{} and {} differ", a.name, b.name);
}

#[tokio::test]
async fn encrypted_devices_converge_through_edits_deletes_renames_and_a_merge() {
    let (sub, code) = encrypted_account("enc-converge").await;
    let mut a = device(&sub, "laptop", Secret::Passphrase(PASSPHRASE)).await;
    let mut b = device(&sub, "desktop", Secret::Passphrase(PASSPHRASE)).await;
    a.write("thoughts/Inbox/idea.md", "one\ntwo\nthree\nfour\n");
    a.write("thoughts/Journal/2026/Dezember Übersicht.md", "über\n");
    a.write("thoughts/gone.md", "to be deleted\n");
    a.write("thoughts/old name.md", "renamed content\n");
    a.sync().await;
    b.sync().await;
    assert_same(&a, &b);
    assert_eq!(b.tree().len(), 4);
    // The server's listing, opened through the key: plaintext names, the devices' hashes.
    assert_eq!(server_files(a.syncer.api()).await, hashes(&a.tree()));

    // Edits, a delete and a rename on one side.
    b.write(
        "thoughts/Journal/2026/Dezember Übersicht.md",
        "über alles\n",
    );
    b.remove("thoughts/gone.md");
    std::fs::rename(
        b.path("thoughts/old name.md"),
        b.path("thoughts/new name.md"),
    )
    .unwrap();
    b.sync().await;
    a.sync().await;
    assert_same(&a, &b);
    assert!(a.read("thoughts/gone.md").is_none());
    assert_eq!(
        a.read("thoughts/new name.md").as_deref(),
        Some("renamed content\n")
    );

    // Both edit one note, in different lines: merged against the decrypted base.
    a.write("thoughts/Inbox/idea.md", "ONE\ntwo\nthree\nfour\n");
    b.write("thoughts/Inbox/idea.md", "one\ntwo\nthree\nFOUR\n");
    a.sync().await;
    b.sync().await;
    a.sync().await;
    assert_same(&a, &b);
    assert_eq!(
        a.read("thoughts/Inbox/idea.md").as_deref(),
        Some("ONE\ntwo\nthree\nFOUR\n")
    );

    // History and deleted notes name plaintext paths; a restore brings back a version.
    let journal = "thoughts/Journal/2026/Dezember Übersicht.md";
    let versions = a.syncer.api().history(journal).await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(
        versions
            .iter()
            .all(|v| v["path"] == journal && v.get("sealed").is_none())
    );
    let (head, first) = (
        versions[0]["version"].as_i64(),
        versions[1]["version"].as_i64(),
    );
    let answer = (a.syncer.api())
        .restore(journal, first.unwrap(), head.unwrap())
        .await
        .unwrap();
    assert_eq!(answer["restored"][0]["path"], journal, "{answer}");
    // As `steel-sync restore` does: the version the restore made is this device's deliberate
    // change, not a push of its own whose answer was lost.
    steel_sync::sync::recovered::remember_recovery(&a.syncer.api_handle(), a.syncer.store())
        .await
        .unwrap();
    let deleted = a.syncer.api().deleted().await.unwrap();
    assert!(
        deleted.iter().any(|f| f["path"] == "thoughts/gone.md"),
        "{deleted:?}"
    );
    a.sync().await;
    b.sync().await;
    assert_eq!(b.read(journal).as_deref(), Some("über\n"));
    assert_same(&a, &b);

    // A third device gets in with the recovery code and finds the same vault.
    let mut c = device(&sub, "phone", Secret::RecoveryCode(&code)).await;
    c.sync().await;
    assert_same(&a, &c);
}

#[tokio::test]
async fn a_device_without_the_key_refuses_to_sync_an_encrypted_vault() {
    let (sub, _) = encrypted_account("enc-locked").await;
    let mut a = device(&sub, "laptop", Secret::Passphrase(PASSPHRASE)).await;
    a.write("thoughts/secret.md", "nothing to see\n");
    a.sync().await;
    let mut locked = Device::new(&sub, "locked").await;
    locked.write("thoughts/plain.md", "would be plaintext\n");
    let err = locked.syncer.sync().await.unwrap_err().to_string();
    assert!(err.contains("steel-sync unlock"), "{err}");
    assert!(locked.read("thoughts/secret.md").is_none());
    // Nothing it had went up in the clear.
    let mut b = device(&sub, "desktop", Secret::Passphrase(PASSPHRASE)).await;
    b.sync().await;
    assert_same(&a, &b);
}

/// The local S3's folder of `user_id`'s blobs (s3s-fs keeps each object as a file).
fn blobs_dir(user_id: &str) -> PathBuf {
    s3_root()
        .join("steel-vault-local")
        .join(user_id)
        .join("blobs")
}

fn s3_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/run/s3")
}

fn blob_files(user_id: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(blobs_dir(user_id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_blob_changed_or_swapped_behind_the_servers_back_is_reported_and_never_written() {
    // Note by note, then through packs (the server checks what it packs; what it refuses
    // to pack comes note by note, and the device checks every blob either way).
    for pack_threshold in [usize::MAX, 1] {
        blob_tampering(pack_threshold).await;
    }
}

async fn blob_tampering(pack_threshold: usize) {
    let (sub, _) = encrypted_account("enc-tamper").await;
    let mut a = device(&sub, "laptop", Secret::Passphrase(PASSPHRASE)).await;
    a.write("thoughts/one.md", "first note\n");
    a.write("thoughts/two.md", "second note, a little longer\n");
    a.sync().await;
    let user_id = a.syncer.api().session().await.user_id;
    let files = blob_files(&user_id);
    assert_eq!(files.len(), 2, "{files:?}");
    let (one, two) = (
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&files[1]).unwrap(),
    );

    // Two blobs swapped.
    std::fs::write(&files[0], &two).unwrap();
    std::fs::write(&files[1], &one).unwrap();
    let mut b = device(&sub, "desktop", Secret::Passphrase(PASSPHRASE)).await;
    b.syncer.set_pack_threshold(pack_threshold);
    let err = b.syncer.sync().await.unwrap_err().to_string();
    assert!(
        err.contains("end-to-end check") || err.contains("do not match"),
        "{err}"
    );
    assert!(b.tree().is_empty(), "{:?}", b.tree().keys());

    // One byte changed in place.
    let mut flipped = one.clone();
    flipped[one.len() / 2] ^= 0x20;
    std::fs::write(&files[0], &flipped).unwrap();
    std::fs::write(&files[1], &two).unwrap();
    let err = b.syncer.sync().await.unwrap_err().to_string();
    assert!(
        err.contains("end-to-end check") || err.contains("do not match"),
        "{err}"
    );
    assert!(b.tree().len() <= 1, "{:?}", b.tree().keys());
    for (path, bytes) in b.tree() {
        assert_eq!(
            Some(bytes),
            a.tree().get(&path).cloned(),
            "{path} written wrong"
        );
    }

    // Put back, the vault syncs whole.
    std::fs::write(&files[0], &one).unwrap();
    b.sync().await;
    assert_same(&a, &b);
}

/// Every form of `canary` the server must never hold: as typed, upper and lower case, NFD
/// and UTF-16 (both byte orders).
pub(crate) fn forms(canary: &str) -> Vec<Vec<u8>> {
    use unicode_normalization::UnicodeNormalization;
    let mut out = Vec::new();
    for s in [
        canary.to_owned(),
        canary.to_uppercase(),
        canary.to_lowercase(),
        canary.nfd().collect(),
    ] {
        out.push(s.as_bytes().to_vec());
        out.push(s.encode_utf16().flat_map(u16::to_le_bytes).collect());
        out.push(s.encode_utf16().flat_map(u16::to_be_bytes).collect());
    }
    out
}

pub(crate) fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn no_canary_of_a_name_or_content_reaches_the_database_the_bucket_or_the_logs() {
    let (sub, _) = encrypted_account("enc-canary").await;
    let mut a = device(&sub, "laptop", Secret::Passphrase(PASSPHRASE)).await;
    let mut b = device(&sub, "desktop", Secret::Passphrase(PASSPHRASE)).await;
    // Every push of `a` goes through an incoming pack (bulk upload), `b`'s note by note.
    a.syncer.set_bulk_threshold(1);
    let tag = format!("{:x}", std::process::id());
    let name_canary = format!("Kanarienvögel{tag}Name");
    let content_canary = format!("Zaunkönig{tag}Inhalt");
    let folder_canary = format!("Geheimordner{tag}Pfad");
    a.write(
        &format!("thoughts/{folder_canary}/{name_canary}.md"),
        &format!("line one {content_canary}\nline two\nline three\n"),
    );
    a.write("thoughts/plain.md", &format!("{content_canary} again\n"));
    a.sync().await;
    b.sync().await;
    // Edit, merge, rename and delete: every operation's rows and blobs.
    let note = format!("thoughts/{folder_canary}/{name_canary}.md");
    a.write(
        &note,
        &format!("line ONE {content_canary}\nline two\nline three\n"),
    );
    b.write(
        &note,
        &format!("line one {content_canary}\nline two\nline THREE\n"),
    );
    a.sync().await;
    b.sync().await;
    a.sync().await;
    std::fs::rename(
        a.path("thoughts/plain.md"),
        a.path(&format!("thoughts/{name_canary} renamed.md")),
    )
    .unwrap();
    a.sync().await;
    let before_delete = chrono::Utc::now();
    a.remove(&format!("thoughts/{name_canary} renamed.md"));
    a.sync().await;
    b.sync().await;
    assert_same(&a, &b);
    // The recovery calls: history, the deleted notes, a restore, a rewind, the account.
    let api = a.syncer.api_handle();
    let renamed = format!("thoughts/{name_canary} renamed.md");
    let history = api.history(&renamed).await.expect("history");
    let head = history[0]["version"].as_i64().expect("head");
    let kept = history
        .iter()
        .find(|v| v["is_deleted"] == false)
        .and_then(|v| v["version"].as_i64())
        .expect("a version with content");
    let deleted = api.deleted().await.expect("deleted");
    assert!(
        deleted.iter().any(|d| d["path"] == renamed.as_str()),
        "the device sees the deleted note by name: {deleted:?}"
    );
    api.restore(&renamed, kept, head).await.expect("restore");
    steel_sync::sync::recovered::remember_recovery(&api, a.syncer.store())
        .await
        .unwrap();
    a.sync().await;
    assert!(a.read(&renamed).is_some(), "restored");
    let as_of = before_delete.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    api.rewind(&as_of, None, false).await.expect("rewind");
    steel_sync::sync::recovered::remember_recovery(&api, a.syncer.store())
        .await
        .unwrap();
    api.account().await.expect("account");
    a.sync().await;
    b.sync().await;
    assert_same(&a, &b);

    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (set by the services)");
    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", "--no-owner", &url])
        .output()
        .expect("pg_dump");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(dump.stdout.len() > 1000, "an empty dump proves nothing");
    let mut objects = Vec::new();
    files_under(&s3_root(), &mut objects);
    let user_id = a.syncer.api().session().await.user_id;
    assert!(
        objects
            .iter()
            .any(|p| p.to_string_lossy().contains(&user_id)),
        "the account's objects are where this test looks"
    );
    for canary in [&name_canary, &content_canary, &folder_canary] {
        for form in forms(canary) {
            assert!(!holds(&dump.stdout, &form), "{canary} in the database dump");
            for object in &objects {
                let bytes = std::fs::read(object).unwrap_or_default();
                assert!(!holds(&bytes, &form), "{canary} in {}", object.display());
            }
        }
    }
    // The change notices on the queue (what the notifier turns into APNs and FCM pushes;
    // under `make dev` nothing else consumes them).
    let mut notices = Vec::new();
    loop {
        let more = common::notices_for(&user_id, std::time::Duration::from_secs(2)).await;
        if more.is_empty() {
            break;
        }
        notices.extend(more);
    }
    assert!(
        !notices.is_empty(),
        "the account's syncs put change notices on the queue"
    );
    let queued = serde_json::to_vec(&notices).unwrap();
    for canary in [&name_canary, &content_canary, &folder_canary] {
        for form in forms(canary) {
            assert!(!holds(&queued, &form), "{canary} in a change notice");
        }
    }
    assert!(
        notices.iter().all(|n| n.get("paths").is_none()),
        "no notice names a note: {notices:?}"
    );
    // The functions' own logs: every line `make dev`'s functions wrote while this ran.
    let log =
        std::env::var("STEEL_DEV_LOG").expect("STEEL_DEV_LOG (set by scripts/with-dev-stack.sh)");
    let logged = std::fs::read(&log).expect("the dev stack's log");
    assert!(
        holds(&logged, user_id.as_bytes()),
        "the log names the account: this test reads the log its requests went to"
    );
    for canary in [&name_canary, &content_canary, &folder_canary] {
        for form in forms(canary) {
            assert!(
                !holds(&logged, &form),
                "{canary} in the functions' log {log}"
            );
        }
    }
}

#[tokio::test]
async fn a_rename_only_in_letter_case_reaches_the_other_device_in_both_modes() {
    for encrypted in [false, true] {
        let sub = unique_user("enc-case-rename");
        if encrypted {
            common::encrypted_account(&sub).await;
        }
        let secret = || encrypted.then_some(Secret::Passphrase(PASSPHRASE));
        let mut a = Device::opened(&sub, "laptop", None, secret()).await;
        let mut b = Device::opened(&sub, "desktop", None, secret()).await;
        a.write("thoughts/Plan.md", "the plan\n");
        a.sync().await;
        b.sync().await;
        assert_same(&a, &b);
        std::fs::rename(a.path("thoughts/Plan.md"), a.path("thoughts/plan.md")).unwrap();
        let report = a.sync().await;
        assert_eq!(report.pushed, ["thoughts/plan.md"], "{report:?}");
        assert_eq!(report.deleted_remote, ["thoughts/Plan.md"], "{report:?}");
        assert_eq!(
            server_files(a.syncer.api()).await,
            hashes(&a.tree()),
            "encrypted: {encrypted}"
        );
        b.sync().await;
        assert_eq!(
            b.tree().keys().cloned().collect::<Vec<_>>(),
            ["thoughts/plan.md"],
            "encrypted: {encrypted}"
        );
        assert_same(&a, &b);
    }
}

#[tokio::test]
async fn notes_of_one_content_are_each_fetched_and_checked() {
    // One stored ciphertext for both (a blob id the account holds uploads nothing), so one
    // pull answers the same presigned URL for both notes.
    let (sub, _) = encrypted_account("enc-same-content").await;
    let mut a = device(&sub, "laptop", Secret::Passphrase(PASSPHRASE)).await;
    a.write("thoughts/template 0.md", "# Template\n");
    a.sync().await;
    // Pushed once its blob id is verified: no upload, the same stored object.
    for i in 1..6 {
        a.write(&format!("thoughts/template {i}.md"), "# Template\n");
    }
    let pushed = a.sync().await;
    assert_eq!(pushed.pushed.len(), 5, "{pushed:?}");
    let user_id = a.syncer.api().session().await.user_id;
    assert_eq!(blob_files(&user_id).len(), 1, "one stored ciphertext");
    for threshold in [usize::MAX, 1] {
        let mut b = device(&sub, "desktop", Secret::Passphrase(PASSPHRASE)).await;
        b.syncer.set_pack_threshold(threshold);
        let report = b.syncer.sync().await.expect("sync");
        assert_eq!(report.pulled.len(), 6, "threshold {threshold}: {report:?}");
        assert_same(&a, &b);
    }
}
