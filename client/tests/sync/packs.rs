//! Fetching through packs (`POST /vault/packs`) against the local stack: a new device gets a
//! vault through packs in a handful of requests and ends up exactly where a device fetching
//! note by note does; a blob whose bytes were changed behind the backend's back is refused
//! and nothing is written.

use crate::common;

use std::sync::atomic::Ordering;

use common::{Device, PASSPHRASE, hashes, server_files, unique_user};
use steel_sync::SyncError;
use steel_sync::vault_key::Secret;

const NOTES: usize = 150;

fn note(i: usize) -> (String, String) {
    // Every tenth note shares its content with another: one blob, several notes.
    let body = if i.is_multiple_of(10) {
        "# shared\n".to_owned()
    } else {
        format!("# note {i}\n\n{}\n", "words ".repeat(i))
    };
    let folder = ["sources", "thoughts", "questions", "syntheses"][i % 4];
    (format!("{folder}/note {i}.md"), body)
}

#[tokio::test]
async fn a_new_device_gets_the_vault_through_packs_as_another_does_note_by_note() {
    let user = unique_user("packs");
    let mut a = Device::new(&user, "A").await;
    for i in 0..NOTES {
        let (path, body) = note(i);
        a.write(&path, &body);
    }
    assert_eq!(a.sync().await.pushed.len(), NOTES);

    let mut packed = Device::new(&user, "B").await;
    let mut per_note = Device::new(&user, "C").await;
    per_note.syncer.set_pack_threshold(usize::MAX);
    assert_eq!(packed.sync().await.pulled.len(), NOTES);
    assert_eq!(per_note.sync().await.pulled.len(), NOTES);
    assert_eq!(packed.tree(), a.tree());
    assert_eq!(per_note.tree(), a.tree());
    assert_eq!(
        hashes(&packed.tree()),
        server_files(packed.syncer.api()).await
    );

    // One pack GET instead of one GET per distinct content.
    let s3 = |d: &Device| d.syncer.api().stats.s3_requests.load(Ordering::Relaxed);
    let api = |d: &Device| d.syncer.api().stats.api_requests.load(Ordering::Relaxed);
    assert_eq!(s3(&packed), 1, "one pack");
    assert!(s3(&per_note) >= (NOTES - NOTES / 10) as u64);
    assert!(api(&packed) <= 5, "state, packs: {}", api(&packed));

    // Both go on syncing alike: an edit on the packed device reaches the others.
    packed.write("thoughts/note 1.md", "edited on B\n");
    assert_eq!(packed.sync().await.pushed, ["thoughts/note 1.md"]);
    assert_eq!(per_note.sync().await.pulled, ["thoughts/note 1.md"]);
    assert_eq!(a.sync().await.pulled, ["thoughts/note 1.md"]);
    assert_eq!(per_note.tree(), packed.tree());
    assert_eq!(a.tree(), packed.tree());
}

#[tokio::test]
async fn a_new_device_of_an_encrypted_vault_goes_straight_to_packs() {
    let user = unique_user("packs-sealed");
    common::encrypted_account(&user).await;
    let open = |name| Device::opened(&user, name, None, Some(Secret::Passphrase(PASSPHRASE)));
    let mut a = open("A").await;
    for i in 0..NOTES {
        let (path, body) = note(i);
        a.write(&path, &body);
    }
    assert_eq!(a.sync().await.pushed.len(), NOTES);

    // The state listing names each version's sealed fields and stored hash: no pull first.
    let mut packed = open("B").await;
    let mut per_note = open("C").await;
    per_note.syncer.set_pack_threshold(usize::MAX);
    assert_eq!(packed.sync().await.pulled.len(), NOTES);
    assert_eq!(per_note.sync().await.pulled.len(), NOTES);
    assert_eq!(packed.tree(), a.tree());
    assert_eq!(per_note.tree(), a.tree());
    let s3 = |d: &Device| d.syncer.api().stats.s3_requests.load(Ordering::Relaxed);
    let api = |d: &Device| d.syncer.api().stats.api_requests.load(Ordering::Relaxed);
    assert_eq!(s3(&packed), 1, "one pack");
    assert!(s3(&per_note) >= (NOTES - NOTES / 10) as u64);
    assert_eq!(api(&packed), 2, "state, packs (no pull)");

    // Learnt as it fetched: the next sync has nothing to fetch or push.
    let again = packed.sync().await;
    assert!(
        again.pulled.is_empty() && again.pushed.is_empty(),
        "{again:?}"
    );
    assert_eq!(s3(&packed), 1);
}

#[tokio::test]
async fn a_blob_changed_behind_the_backends_back_is_refused_and_nothing_is_written() {
    let user = unique_user("packs-corrupt");
    let mut a = Device::new(&user, "A").await;
    // Note by note: a bulk upload's pack would be kept as a read pack of the bytes its
    // confirm checked, and B's packs would come from it, not from the blobs' keys.
    a.syncer.set_bulk_threshold(usize::MAX);
    for i in 1..80 {
        let (path, body) = note(i);
        a.write(&path, &body);
    }
    a.sync().await;
    let (_, body) = note(33);
    let hash = steel_sync::scan::hash_bytes(body.as_bytes());
    let user_id = a.syncer.api().session().await.user_id;
    common::corrupt_blob(&user_id, &hash, b"not what the hash says").await;

    for threshold in [1, usize::MAX] {
        let mut b = Device::new(&user, "B").await;
        b.syncer.set_pack_threshold(threshold);
        match b.syncer.sync().await {
            Err(SyncError::Integrity { expected, .. }) => assert_eq!(expected, hash),
            other => panic!("threshold {threshold}: expected an integrity error, got {other:?}"),
        }
        assert!(
            b.tree().is_empty(),
            "threshold {threshold}: nothing written"
        );
    }
}
