//! Bulk upload (`POST /vault/bulk`) against the local stack: a first upload of many notes
//! goes up through one incoming pack per push batch in a handful of requests and leaves the
//! server exactly as a device uploading note by note does; both devices then sync alike. Its
//! push asks for no upload URLs (`presign=false`); when the pack cannot go up, the batch is
//! pushed again for them and uploaded note by note.

use crate::common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use common::{Device, hashes, server_files, unique_user};
use steel_sync::api::transport::{BoxFuture, Failure, Request, Reqwest, Response, Transport};
use steel_sync::faults::{Fault, Faults, Op};

const NOTES: usize = 150;

fn note(i: usize, who: &str) -> (String, String) {
    // Every tenth note shares its content with another: one blob, several notes.
    let body = if i.is_multiple_of(10) {
        format!("# shared by {who}\n")
    } else {
        format!("# note {i} of {who}\n\n{}\n", "words ".repeat(i))
    };
    let folder = ["sources", "thoughts", "questions", "syntheses"][i % 4];
    (format!("{folder}/note {i}.md"), body)
}

#[tokio::test]
async fn a_first_upload_goes_through_one_pack_and_ends_as_the_per_note_one() {
    let s3 = |d: &Device| d.syncer.api().stats.s3_requests.load(Ordering::Relaxed);
    let api = |d: &Device| d.syncer.api().stats.api_requests.load(Ordering::Relaxed);

    // Two accounts with the same kind of vault: one uploads through a pack, one note by note.
    let user = unique_user("bulk");
    let mut bulk = Device::new(&user, "A").await;
    let mut per_note = Device::new(&unique_user("bulk-per-note"), "A").await;
    per_note.syncer.set_bulk_threshold(usize::MAX);
    for i in 0..NOTES {
        let (path, body) = note(i, "me");
        bulk.write(&path, &body);
        per_note.write(&path, &body);
    }
    assert_eq!(bulk.sync().await.pushed.len(), NOTES);
    assert_eq!(per_note.sync().await.pushed.len(), NOTES);
    assert_eq!(hashes(&bulk.tree()), server_files(bulk.syncer.api()).await);
    assert_eq!(
        server_files(bulk.syncer.api()).await,
        server_files(per_note.syncer.api()).await
    );
    // One PUT (the pack) instead of one per distinct content.
    assert_eq!(s3(&bulk), 1, "one pack PUT");
    assert!(s3(&per_note) >= (NOTES - NOTES / 10) as u64);
    // A handful of API requests: those of the per-note upload, its confirm replaced by
    // `/vault/bulk` and `/vault/bulk/confirm` (one more), and at most two more reads (the
    // number of state reads around a first sync varies from run to run).
    assert!(
        api(&bulk) <= api(&per_note) + 3,
        "API requests: {} in bulk, {} note by note",
        api(&bulk),
        api(&per_note)
    );

    // A second device of the bulk account gets everything, and edits flow both ways.
    let mut other = Device::new(&user, "B").await;
    assert_eq!(other.sync().await.pulled.len(), NOTES);
    assert_eq!(other.tree(), bulk.tree());
    other.write("thoughts/note 1.md", "edited on B\n");
    assert_eq!(other.sync().await.pushed, ["thoughts/note 1.md"]);
    assert_eq!(bulk.sync().await.pulled, ["thoughts/note 1.md"]);
    assert_eq!(other.tree(), bulk.tree());

    // A batch with a conflict: B edits a note A also changed; A's bulk upload of many new
    // notes plus that edit commits the new notes and learns the conflict, which the next
    // round merges, as on the per-note path.
    other.write("sources/note 4.md", "B's version\n");
    assert_eq!(other.sync().await.pushed, ["sources/note 4.md"]);
    bulk.write("sources/note 4.md", "A's version\n");
    for i in NOTES..2 * NOTES {
        let (path, body) = note(i, "later");
        bulk.write(&path, &body);
    }
    bulk.sync().await;
    other.sync().await;
    bulk.sync().await;
    assert_eq!(other.tree(), bulk.tree());
    assert_eq!(hashes(&bulk.tree()), server_files(bulk.syncer.api()).await);
    // Neither edit was lost to the other.
    let text: Vec<String> = bulk
        .tree()
        .values()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        text.iter().any(|t| t.contains("A's version")),
        "A's edit kept"
    );
    assert!(
        text.iter().any(|t| t.contains("B's version")),
        "B's edit kept"
    );
    assert!(bulk.tree().len() >= 2 * NOTES);
}

/// Every `POST /vault/bulk` fails before it is sent.
struct NoPack;

impl Faults for NoPack {
    fn on_request(&self, op: Op) -> Fault {
        if op == Op::Bulk {
            Fault::DropRequest
        } else {
            Fault::None
        }
    }
}

/// The real network, remembering the URL of every push.
struct PushLog {
    inner: Reqwest,
    urls: Mutex<Vec<String>>,
}

impl Transport for PushLog {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, Failure>> {
        if request.url.contains("/vault/push") && !request.url.contains("/confirm") {
            self.urls.lock().expect("log").push(request.url.clone());
        }
        self.inner.send(request)
    }
}

#[tokio::test]
async fn a_batch_whose_pack_cannot_go_up_is_pushed_again_for_urls_and_sent_note_by_note() {
    let log = Arc::new(PushLog {
        inner: Reqwest(steel_sync::api::http_client()),
        urls: Mutex::new(Vec::new()),
    });
    let transport: Arc<dyn Transport> = log.clone();
    let user = unique_user("bulk-fallback");
    let mut dev =
        Device::opened_over(&user, "A", Some(transport), Some(Arc::new(NoPack)), None).await;
    for i in 0..NOTES {
        let (path, body) = note(i, "me");
        dev.write(&path, &body);
    }
    assert_eq!(dev.sync().await.pushed.len(), NOTES);
    assert_eq!(hashes(&dev.tree()), server_files(dev.syncer.api()).await);
    // The batch asked for no URLs, the pack failed, the same notes were pushed again with
    // URLs and each distinct content went up on its own.
    // (A request the transport sent twice, its connection lost, is logged twice.)
    let urls = log.urls.lock().expect("log").clone();
    let last = urls.last().expect("pushes");
    assert!(last.ends_with("/vault/push"), "{urls:?}");
    let before = &urls[..urls.len() - 1];
    assert!(!before.is_empty(), "{urls:?}");
    assert!(
        before
            .iter()
            .all(|u| u.ends_with("/vault/push?presign=false")),
        "{urls:?}"
    );
    let s3 = dev.syncer.api().stats.s3_requests.load(Ordering::Relaxed);
    assert!(s3 >= (NOTES - NOTES / 10) as u64, "{s3} PUTs");

    // A second device gets every note.
    let mut other = Device::new(&user, "B").await;
    assert_eq!(other.sync().await.pulled.len(), NOTES);
    assert_eq!(other.tree(), dev.tree());
}
