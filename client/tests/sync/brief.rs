//! Brief state entries through the local stack: an encrypted device lists with `own=brief`
//! and names its own versions from `sync.db`. After a confirm whose answer was lost, its
//! versions are not in `sync.db`: the page is read again with `own=full`, and the sync
//! converges on the versions it learns; a no-change sync after recorded pushes reads its own
//! versions brief in one request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use steel_sync::api::transport::{BoxFuture, Failure, Request, Reqwest, Response, Transport};
use steel_sync::faults::{Fault, Faults, Op};
use steel_sync::store::Store;
use steel_sync::vault_key::Secret;

use super::common::{self, Device, PASSPHRASE, hashes, server_files, unique_user};

/// The real network, remembering the URL of every `GET /vault/state`.
struct StateLog {
    inner: Reqwest,
    urls: Mutex<Vec<String>>,
}

impl StateLog {
    /// The `own` of each state request since the last call, in order.
    fn owns(&self) -> Vec<String> {
        let urls = std::mem::take(&mut *self.urls.lock().expect("log"));
        (urls.iter())
            .map(|u| u.split("own=").nth(1).unwrap_or("(none)").to_owned())
            .collect()
    }
}

impl Transport for StateLog {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, Failure>> {
        if request.url.contains("/vault/state") {
            self.urls.lock().expect("log").push(request.url.clone());
        }
        self.inner.send(request)
    }
}

/// Loses the answer of the next confirm once armed.
#[derive(Default)]
struct LoseConfirm(AtomicBool);

impl Faults for LoseConfirm {
    fn on_request(&self, op: Op) -> Fault {
        if op == Op::Confirm && self.0.swap(false, Ordering::Relaxed) {
            return Fault::LoseResponse;
        }
        Fault::None
    }
}

fn recorded_version(dir: &std::path::Path, path: &str) -> Option<i64> {
    let rows = Store::open(dir).expect("sync.db").rows().expect("rows");
    rows.get(path).map(|r| r.server_version)
}

#[tokio::test]
async fn a_version_the_device_did_not_record_is_read_in_full_and_learnt() {
    let sub = unique_user("enc-brief");
    common::encrypted_account(&sub).await;
    let log = Arc::new(StateLog {
        inner: Reqwest(steel_sync::api::http_client()),
        urls: Mutex::new(Vec::new()),
    });
    let faults = Arc::new(LoseConfirm::default());
    let passphrase = || Some(Secret::Passphrase(PASSPHRASE));
    let transport: Arc<dyn Transport> = log.clone();
    let mut a = Device::opened_over(
        &sub,
        "laptop",
        Some(transport),
        Some(faults.clone()),
        passphrase(),
    )
    .await;
    a.write("thoughts/kept.md", "recorded\n");
    a.sync().await;
    assert_eq!(recorded_version(a.root(), "thoughts/kept.md"), Some(1));

    // The confirm commits on the server; its answer is lost, so sync.db never records it.
    a.write("thoughts/lost.md", "answer lost\n");
    a.write("thoughts/kept.md", "recorded, then edited\n");
    faults.0.store(true, Ordering::Relaxed);
    assert!(
        a.syncer.sync().await.is_err(),
        "the lost answer fails the sync"
    );
    assert_eq!(recorded_version(a.root(), "thoughts/lost.md"), None);
    assert_eq!(recorded_version(a.root(), "thoughts/kept.md"), Some(1));
    log.owns();

    // The next sync lists those versions brief (A's own), cannot name them from sync.db,
    // reads the page again in full and takes them for its own lost push: nothing to push or
    // pull, both recorded at the server's versions.
    let report = a.sync().await;
    assert_eq!(log.owns(), ["brief", "full"], "one extra request, in full");
    assert!(
        report.pushed.is_empty() && report.pulled.is_empty(),
        "{report:?}"
    );
    assert_eq!(recorded_version(a.root(), "thoughts/lost.md"), Some(1));
    assert_eq!(recorded_version(a.root(), "thoughts/kept.md"), Some(2));
    assert_eq!(server_files(a.syncer.api()).await, hashes(&a.tree()));

    // Pushes whose answers arrive: the next no-change sync reads them brief, one request.
    a.write("thoughts/new.md", "answered\n");
    a.sync().await;
    log.owns();
    let report = a.sync().await;
    assert_eq!(
        log.owns(),
        ["brief"],
        "recorded versions need no second read"
    );
    assert!(
        report.pushed.is_empty() && report.pulled.is_empty(),
        "{report:?}"
    );

    // Another device (every version full to it) converges on the same notes.
    let mut b = Device::opened(&sub, "desktop", None, passphrase()).await;
    b.sync().await;
    assert_eq!(a.tree(), b.tree());
}
