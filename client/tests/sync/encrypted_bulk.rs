//! Bulk upload of an end-to-end encrypted vault through the local stack: a first upload of
//! more notes than `BULK_THRESHOLD` goes up as one incoming pack of ciphertexts per push
//! batch (one PUT instead of one per note, and about the per-note path's API requests),
//! leaves the server as the per-note path does, a second device unlocking with the
//! passphrase gets every note, and no request the device sent (API bodies, URLs, the pack
//! itself) holds any form of a note's name or content.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use steel_sync::api::transport::{BoxFuture, Failure, Request, Reqwest, Response, Transport};
use steel_sync::sync::BULK_THRESHOLD;
use steel_sync::vault_key::Secret;

use super::common::{self, Device, PASSPHRASE, hashes, server_files, unique_user};
use super::encrypted::{forms, holds};

const NOTES: usize = 150;
// The upload must reach the threshold for the pack path to be the one measured.
const _: () = assert!(NOTES > BULK_THRESHOLD);

/// The real network, remembering every request's URL (percent-decoded) and body.
struct Recorder {
    inner: Reqwest,
    sent: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Transport for Recorder {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, Failure>> {
        let body = request.body.clone().unwrap_or_default();
        let url = percent_decoded(&request.url);
        self.sent.lock().expect("recorder").push((url, body));
        self.inner.send(request)
    }
}

fn percent_decoded(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn note(i: usize, name: &str, content: &str) -> (String, String) {
    // Every tenth note shares its content with another: one blob id, several notes.
    let body = if i.is_multiple_of(10) {
        format!("# shared {content}\n")
    } else {
        format!("# note {i} {content}\n\n{}\n", "words ".repeat(i))
    };
    let folder = ["sources", "thoughts", "questions", "syntheses"][i % 4];
    (format!("{folder}/{name} {i}.md"), body)
}

#[tokio::test]
async fn an_encrypted_first_upload_goes_through_packs_in_a_few_requests_and_leaks_nothing() {
    let s3 = |d: &Device| d.syncer.api().stats.s3_requests.load(Ordering::Relaxed);
    let api = |d: &Device| d.syncer.api().stats.api_requests.load(Ordering::Relaxed);
    let tag = format!("{:x}", std::process::id());
    let name = format!("Packvögel{tag}Name");
    let content = format!("Packkönig{tag}Inhalt");

    let sub = unique_user("enc-bulk");
    common::encrypted_account(&sub).await;
    let recorder = Arc::new(Recorder {
        inner: Reqwest(steel_sync::api::http_client()),
        sent: Mutex::new(Vec::new()),
    });
    let transport: Arc<dyn Transport> = recorder.clone();
    let passphrase = || Some(Secret::Passphrase(PASSPHRASE));
    let mut bulk = Device::opened_over(&sub, "laptop", Some(transport), None, passphrase()).await;
    // The same vault in another encrypted account, uploaded note by note.
    let per_note_sub = unique_user("enc-bulk-per-note");
    common::encrypted_account(&per_note_sub).await;
    let mut per_note = Device::opened(&per_note_sub, "laptop", None, passphrase()).await;
    per_note.syncer.set_bulk_threshold(usize::MAX);
    for i in 0..NOTES {
        let (path, body) = note(i, &name, &content);
        bulk.write(&path, &body);
        per_note.write(&path, &body);
    }
    assert_eq!(bulk.sync().await.pushed.len(), NOTES);
    assert_eq!(per_note.sync().await.pushed.len(), NOTES);
    assert_eq!(hashes(&bulk.tree()), server_files(bulk.syncer.api()).await);
    assert_eq!(
        hashes(&per_note.tree()),
        server_files(per_note.syncer.api()).await
    );
    eprintln!(
        "encrypted first upload of {NOTES} notes: through a pack {} API + {} S3 requests, \
         note by note {} API + {} S3",
        api(&bulk),
        s3(&bulk),
        api(&per_note),
        s3(&per_note)
    );
    // One PUT (the pack) instead of one per note (every ciphertext is distinct).
    assert_eq!(s3(&bulk), 1, "one pack PUT");
    assert!(s3(&per_note) >= NOTES as u64);
    // The per-note path's API requests, its confirm replaced by `/vault/bulk` and
    // `/vault/bulk/confirm`, and at most two more reads (state reads around a first sync
    // vary from run to run).
    assert!(
        api(&bulk) <= api(&per_note) + 3,
        "API requests: {} through a pack, {} note by note",
        api(&bulk),
        api(&per_note)
    );

    // What the device sent: the pack went to an incoming key, and nothing it sent holds a
    // name or a content in any form.
    let sent = recorder.sent.lock().expect("recorder").clone();
    let pack = sent
        .iter()
        .find(|(url, _)| url.contains("/incoming/"))
        .expect("a PUT of an incoming pack");
    assert!(
        pack.1.len() > NOTES * 40,
        "the pack holds every note's ciphertext"
    );
    assert!(
        sent.iter()
            .any(|(url, _)| url.ends_with("/vault/bulk/confirm"))
    );
    // Its push asked for no per-note URLs (the pack needs none), and no other push followed.
    let pushes: Vec<&String> = (sent.iter().map(|(url, _)| url))
        .filter(|url| url.contains("/vault/push") && !url.contains("/confirm"))
        .collect();
    // (A request the transport sent twice, its connection lost, is recorded twice.)
    assert!(!pushes.is_empty());
    assert!(
        pushes
            .iter()
            .all(|u| u.ends_with("/vault/push?presign=false")),
        "{pushes:?}"
    );
    for canary in [&name, &content] {
        for form in forms(canary) {
            for (url, body) in &sent {
                assert!(!holds(url.as_bytes(), &form), "{canary} in the URL {url}");
                assert!(!holds(body, &form), "{canary} in the body sent to {url}");
            }
        }
    }

    // A second device unlocking with the passphrase gets every note, readable.
    let mut phone = Device::opened(&sub, "phone", None, passphrase()).await;
    assert_eq!(phone.sync().await.pulled.len(), NOTES);
    assert_eq!(phone.tree(), bulk.tree());
    let (first, body) = note(1, &name, &content);
    assert_eq!(phone.read(&first).as_deref(), Some(body.as_str()));
    // And edits flow back through the per-note path (below the threshold).
    phone.write(&first, "edited on the phone\n");
    assert_eq!(phone.sync().await.pushed, std::slice::from_ref(&first));
    assert_eq!(bulk.sync().await.pulled, [first]);
    assert_eq!(phone.tree(), bulk.tree());
}
