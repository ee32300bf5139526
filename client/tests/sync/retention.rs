//! A device that slept past the tombstone retention: the janitor forgot deletes it never
//! heard of, so its stored cursor answers 410 and it compares a full listing instead. A note
//! it knows that the listing lacks was deleted on the server: deleted here if the local
//! bytes are the last synced ones, pushed again as a new note if they were edited. Nothing
//! deleted comes back, no edit is lost.
//!
//! The janitor runs in this process against the stack's database and bucket, 91 days ahead:
//! it compacts every tombstone of the local stack, which is why the client tests run one at
//! a time (`make test`).

use crate::common::{Device, hashes, run_janitor, server_files, unique_user};

#[tokio::test]
async fn a_device_that_slept_past_the_retention_resyncs_without_resurrecting_or_losing() {
    let user = unique_user("slept");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;
    for name in ["thoughts/gone.md", "thoughts/edited.md", "thoughts/kept.md"] {
        a.write(name, &format!("{name} as written\n"));
    }
    let first = a.sync().await;
    assert_eq!(first.pushed.len(), 3, "{first:?}");
    assert_eq!(b.sync().await.pulled.len(), 3);

    // While B sleeps: A deletes two notes; B edits one of them offline.
    a.remove("thoughts/gone.md");
    a.remove("thoughts/edited.md");
    let ra = a.sync().await;
    assert_eq!(ra.deleted_remote.len(), 2, "{ra:?}");
    b.write("thoughts/edited.md", "edited on B while asleep\n");
    let report = run_janitor(None, 91).await;
    assert!(report.tombstones_compacted >= 2, "{report:?}");

    // B's cursor predates the forgotten deletes: the sync lists everything and decides.
    let r = b.sync().await;
    assert_eq!(r.pushed, ["thoughts/edited.md"], "{r:?}");
    assert_eq!(r.deleted_local, ["thoughts/gone.md"], "{r:?}");
    assert!(
        b.read("thoughts/gone.md").is_none(),
        "a forgotten delete is applied here"
    );
    assert_eq!(
        b.read("thoughts/edited.md").unwrap(),
        "edited on B while asleep\n"
    );
    assert_eq!(
        b.read("thoughts/kept.md").unwrap(),
        "thoughts/kept.md as written\n"
    );

    a.sync().await;
    assert_eq!(a.tree(), b.tree());
    assert_eq!(hashes(&b.tree()), server_files(b.syncer.api()).await);
    // A second sync on B is incremental again and quiet.
    let again = b.sync().await;
    assert!(
        again.pushed.is_empty() && again.pulled.is_empty(),
        "{again:?}"
    );
}
