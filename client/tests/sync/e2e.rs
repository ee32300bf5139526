//! End to end through the local stack (`cargo lambda watch` with the router, Postgres, s3s-fs,
//! moto): two vault folders of one user converge, edits and deletes flow both ways, and
//! concurrent edits lose nothing.

use crate::common;

use std::time::{Duration, Instant};

use common::{Device, hashes, server_files, unique_user};

#[tokio::test]
async fn a_note_created_on_a_appears_on_b_and_edits_deletes_and_renames_flow_both_ways() {
    let user = unique_user("flow");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;

    a.write("thoughts/Hello.md", "# Hello\n\nfrom A\n");
    let r = a.sync().await;
    assert_eq!(r.pushed, ["thoughts/Hello.md"]);
    let r = b.sync().await;
    assert_eq!(r.pulled, ["thoughts/Hello.md"]);
    assert_eq!(
        std::fs::read(b.path("thoughts/Hello.md")).unwrap(),
        b"# Hello\n\nfrom A\n"
    );

    // Edit on B flows to A.
    b.write("thoughts/Hello.md", "# Hello\n\nfrom A\nand B\n");
    assert_eq!(b.sync().await.pushed, ["thoughts/Hello.md"]);
    assert_eq!(a.sync().await.pulled, ["thoughts/Hello.md"]);
    assert_eq!(
        a.read("thoughts/Hello.md").unwrap(),
        "# Hello\n\nfrom A\nand B\n"
    );

    // Rename on A (delete + create) flows to B.
    std::fs::create_dir_all(a.path("sources")).unwrap();
    std::fs::rename(
        a.path("thoughts/Hello.md"),
        a.path("sources/Hello again.md"),
    )
    .unwrap();
    let r = a.sync().await;
    assert_eq!(r.deleted_remote, ["thoughts/Hello.md"]);
    assert_eq!(r.pushed, ["sources/Hello again.md"]);
    let r = b.sync().await;
    assert_eq!(r.deleted_local, ["thoughts/Hello.md"]);
    assert!(!b.path("thoughts/Hello.md").exists());
    assert_eq!(
        b.read("sources/Hello again.md").unwrap(),
        "# Hello\n\nfrom A\nand B\n"
    );

    // Delete on B flows to A.
    b.remove("sources/Hello again.md");
    assert_eq!(b.sync().await.deleted_remote, ["sources/Hello again.md"]);
    assert_eq!(a.sync().await.deleted_local, ["sources/Hello again.md"]);
    assert!(a.tree().is_empty());

    // Quiet: nothing more to do on either side, and both match the server.
    for d in [&mut a, &mut b] {
        let r = d.sync().await;
        assert_eq!(r.summary(), common::quiet_summary(), "{}", d.name);
    }
    assert!(server_files(a.syncer.api()).await.is_empty());
}

#[tokio::test]
async fn nfc_and_nfd_names_from_two_devices_name_one_note() {
    let user = unique_user("nfc");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;
    let nfc = "thoughts/Caf\u{e9} notes.md";
    let nfd = "thoughts/Cafe\u{301} notes.md";

    // B (say, an older macOS) writes the name decomposed.
    b.write(nfd, "espresso\n");
    b.sync().await;
    assert_eq!(
        server_files(b.syncer.api())
            .await
            .keys()
            .collect::<Vec<_>>(),
        [nfc]
    );

    // A gets it under the NFC name and edits it.
    a.sync().await;
    assert_eq!(a.read(nfc).unwrap(), "espresso\n");
    a.write(nfc, "espresso\nristretto\n");
    a.sync().await;

    // B's decomposed file is updated in place: still one note, no second name.
    let r = b.sync().await;
    assert_eq!(r.pulled, [nfc]);
    assert_eq!(b.read(nfd).unwrap(), "espresso\nristretto\n");
    let names: Vec<_> = std::fs::read_dir(b.path("thoughts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["Cafe\u{301} notes.md"]);
    assert_eq!(hashes(&a.tree()), hashes(&b.tree()));
}

#[tokio::test]
async fn concurrent_edits_to_different_lines_merge_on_both_devices() {
    let user = unique_user("merge");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;
    a.write("questions/Q.md", "title\n\none\ntwo\nthree\nfour\n");
    a.sync().await;
    b.sync().await;

    a.write("questions/Q.md", "title\n\nONE (A)\ntwo\nthree\nfour\n");
    b.write("questions/Q.md", "title\n\none\ntwo\nthree\nFOUR (B)\n");
    a.sync().await;
    let r = b.sync().await;
    assert_eq!(r.merged, ["questions/Q.md"]);
    assert!(r.conflict_copies.is_empty());
    a.sync().await;

    let merged = "title\n\nONE (A)\ntwo\nthree\nFOUR (B)\n";
    assert_eq!(a.read("questions/Q.md").unwrap(), merged);
    assert_eq!(b.read("questions/Q.md").unwrap(), merged);
    assert_eq!(a.tree(), b.tree());
    assert_eq!(
        hashes(&a.tree()),
        server_files(a.syncer.api()).await,
        "the server holds the merge"
    );
}

#[tokio::test]
async fn overlapping_concurrent_edits_keep_both_as_a_conflict_copy() {
    let user = unique_user("conflict");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;
    a.write("syntheses/S.md", "line one\nline two\n");
    a.sync().await;
    b.sync().await;

    a.write("syntheses/S.md", "line one\nline two, as A sees it\n");
    b.write("syntheses/S.md", "line one\nline two, as B sees it\n");
    a.sync().await;
    let r = b.sync().await;
    assert!(r.merged.is_empty());
    assert_eq!(r.conflict_copies.len(), 1);
    let (path, copy) = &r.conflict_copies[0];
    assert_eq!(path, "syntheses/S.md");
    assert!(
        copy.starts_with("syntheses/S (conflict B ") && copy.ends_with(").md"),
        "{copy}"
    );
    a.sync().await;

    for d in [&a, &b] {
        assert_eq!(
            d.read("syntheses/S.md").unwrap(),
            "line one\nline two, as A sees it\n"
        );
        assert_eq!(d.read(copy).unwrap(), "line one\nline two, as B sees it\n");
    }
    assert_eq!(a.tree(), b.tree());
    assert_eq!(hashes(&a.tree()), server_files(a.syncer.api()).await);
}

#[tokio::test]
async fn an_edit_wins_over_a_concurrent_delete_from_either_side() {
    let user = unique_user("editwins");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;
    a.write("thoughts/1.md", "one\n");
    a.write("thoughts/2.md", "two\n");
    a.sync().await;
    b.sync().await;

    // 1: deleted on A first, then edited on B (edit against a remote delete revives it).
    // 2: edited on A first, then deleted on B (a delete against a remote edit keeps it).
    a.remove("thoughts/1.md");
    b.write("thoughts/1.md", "one, edited on B\n");
    a.write("thoughts/2.md", "two, edited on A\n");
    b.remove("thoughts/2.md");
    a.sync().await;
    let r = b.sync().await;
    assert_eq!(r.pushed, ["thoughts/1.md"], "{r:?}");
    assert_eq!(r.pulled, ["thoughts/2.md"], "{r:?}");
    a.sync().await;
    for d in [&a, &b] {
        assert_eq!(d.read("thoughts/1.md").unwrap(), "one, edited on B\n");
        assert_eq!(d.read("thoughts/2.md").unwrap(), "two, edited on A\n");
    }
    assert_eq!(hashes(&a.tree()), server_files(a.syncer.api()).await);
}

#[tokio::test]
async fn a_confirm_on_a_queues_a_notice_whose_paths_b_pulls() {
    let user = unique_user("notice");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;
    let user_id = a.syncer.api().session().await.user_id;
    let device_a = a.syncer.api().session().await.device_id.unwrap();

    common::purge_notices().await;
    a.write("sources/Paper.md", "# A paper\n");
    a.sync().await;

    let notice = common::notices_for(&user_id, Duration::from_secs(60))
        .await
        .into_iter()
        .next()
        .expect("a change notice for this user on the queue");
    assert_eq!(notice["origin_device_id"], device_a.as_str());
    let paths: Vec<String> = serde_json::from_value(notice["paths"].clone()).unwrap();
    assert_eq!(paths, ["sources/Paper.md"]);

    // What the app does on the silent push: sync, which pulls exactly those paths.
    let r = b.sync().await;
    assert_eq!(r.pulled, paths);
    assert_eq!(b.read("sources/Paper.md").unwrap(), "# A paper\n");
}

#[tokio::test]
async fn a_vault_of_2000_notes_syncs_from_a_to_b() {
    let user = unique_user("big");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::new(&user, "B").await;
    let folders = ["sources", "thoughts", "questions", "syntheses"];
    for i in 0..2000 {
        let size = 200 + (i * 37) % 4000;
        let body: String = format!("# Note {i}\n\n")
            .chars()
            .chain((0..size).map(|j| (b'a' + ((i + j) % 26) as u8) as char))
            .collect();
        a.write(&format!("{}/n{i:04}.md", folders[i % 4]), &body);
    }
    let started = Instant::now();
    let r = a.sync().await;
    eprintln!("2000 notes pushed in {:?}", started.elapsed());
    assert_eq!(r.pushed.len(), 2000);
    let started = Instant::now();
    let r = b.sync().await;
    eprintln!("2000 notes pulled in {:?}", started.elapsed());
    assert_eq!(r.pulled.len(), 2000);
    assert_eq!(a.tree(), b.tree());
    assert_eq!(hashes(&b.tree()), server_files(b.syncer.api()).await);
    // And a second sync on each is quiet.
    assert_eq!(a.sync().await.summary(), common::quiet_summary());
    assert_eq!(b.sync().await.summary(), common::quiet_summary());
}

/// Injects one fault, the first time `op` is used.
struct Once {
    op: steel_sync::Op,
    fault: steel_sync::Fault,
    crash: bool,
    fired: std::sync::atomic::AtomicBool,
}

impl Once {
    fn new(op: steel_sync::Op, fault: steel_sync::Fault) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Once {
            op,
            fault,
            crash: false,
            fired: Default::default(),
        })
    }

    fn crash_after_write() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Once {
            op: steel_sync::Op::Login,
            fault: steel_sync::Fault::None,
            crash: true,
            fired: Default::default(),
        })
    }

    fn fire(&self) -> bool {
        !self.fired.swap(true, std::sync::atomic::Ordering::SeqCst)
    }
}

impl steel_sync::Faults for Once {
    fn on_request(&self, op: steel_sync::Op) -> steel_sync::Fault {
        if op == self.op && !self.crash && self.fire() {
            self.fault
        } else {
            steel_sync::Fault::None
        }
    }

    fn crash_after_write(&self, _path: &str) -> bool {
        self.crash && self.fire()
    }
}

#[tokio::test]
async fn a_confirm_whose_answer_is_lost_is_finished_by_the_next_sync_without_a_conflict() {
    let user = unique_user("lostconfirm");
    let faults = Once::new(steel_sync::Op::Confirm, steel_sync::Fault::LoseResponse);
    let mut a = Device::with_faults(&user, "A", Some(faults)).await;
    let mut b = Device::new(&user, "B").await;
    a.write("thoughts/N.md", "v1\n");
    let err = a.syncer.sync().await.unwrap_err();
    assert!(
        matches!(err, steel_sync::SyncError::Network { op: "confirm", .. }),
        "{err}"
    );
    // The server committed it; A does not know yet.
    assert_eq!(server_files(b.syncer.api()).await.len(), 1);

    // The next sync recognises its own version; an edit after it goes on top, no conflict.
    let r = a.sync().await;
    assert_eq!((r.pushed.len(), r.conflicts()), (0, 0), "{r:?}");
    a.write("thoughts/N.md", "v1\nv2\n");
    let r = a.sync().await;
    assert_eq!((r.pushed.len(), r.conflicts()), (1, 0), "{r:?}");
    b.sync().await;
    assert_eq!(b.read("thoughts/N.md").unwrap(), "v1\nv2\n");
    assert_eq!(a.tree(), b.tree());
}

#[tokio::test]
async fn a_crash_between_writing_a_pulled_note_and_recording_it_loses_nothing() {
    let user = unique_user("crash");
    let mut a = Device::new(&user, "A").await;
    let mut b = Device::with_faults(&user, "B", Some(Once::crash_after_write())).await;
    a.write("sources/P.md", "pulled\n");
    a.write("sources/Q.md", "kept\n");
    a.sync().await;

    let err = b.syncer.sync().await.unwrap_err();
    assert!(matches!(err, steel_sync::SyncError::Crash(_)), "{err}");
    // One note was written before the "crash". The user deletes it before B syncs again:
    // that is a delete of the pulled version, not a new note to download again.
    let written: Vec<String> = b.tree().into_keys().collect();
    assert_eq!(written.len(), 1, "{written:?}");
    b.remove(&written[0]);
    let r = b.sync().await;
    assert_eq!(r.deleted_remote, written, "{r:?}");
    a.sync().await;
    assert_eq!(a.tree(), b.tree());
    assert_eq!(a.tree().len(), 1);
    assert_eq!(hashes(&a.tree()), server_files(a.syncer.api()).await);
}

/// Counts the pushes and confirms a device sends.
#[derive(Default)]
struct CountWrites(std::sync::atomic::AtomicUsize);

impl steel_sync::faults::Faults for CountWrites {
    fn on_request(&self, op: steel_sync::faults::Op) -> steel_sync::faults::Fault {
        if matches!(
            op,
            steel_sync::faults::Op::Push | steel_sync::faults::Op::Confirm
        ) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        steel_sync::faults::Fault::None
    }
}

#[tokio::test]
async fn a_case_twin_is_refused_on_the_device_before_any_request() {
    let user = unique_user("twins");
    let writes = std::sync::Arc::new(CountWrites::default());
    let mut a = Device::with_faults(&user, "A", Some(writes.clone())).await;
    a.write("thoughts/Idea.md", "an idea\n");
    assert_eq!(a.sync().await.pushed, ["thoughts/Idea.md"]);
    let before = writes.0.load(std::sync::atomic::Ordering::SeqCst);

    // One note on a Mac or an iPhone: the device says so itself, naming both, and sends
    // nothing; the note the server has stays as it is.
    a.write("thoughts/idea.md", "another\n");
    let r = a.sync().await;
    assert!(r.pushed.is_empty(), "{r:?}");
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert_eq!(r.rejected[0].path, "thoughts/idea.md");
    assert_eq!(r.rejected[0].code, "case_conflict");
    assert!(r.rejected[0].message.contains("thoughts/Idea.md"), "{r:?}");
    assert_eq!(writes.0.load(std::sync::atomic::Ordering::SeqCst), before);
    let api = steel_sync::Api::new(common::sign_in(&user, "check").await, None);
    let on_server = server_files(&api).await;
    assert_eq!(on_server.keys().collect::<Vec<_>>(), ["thoughts/Idea.md"]);

    // Two new twins at once: one goes, the other is refused, never both.
    a.write("sources/Plan.md", "plan\n");
    a.write("sources/PLAN.md", "PLAN\n");
    let r = a.sync().await;
    assert_eq!(r.pushed, ["sources/PLAN.md"]);
    assert!(
        r.rejected
            .iter()
            .any(|x| x.path == "sources/Plan.md" && x.message.contains("sources/PLAN.md")),
        "{r:?}"
    );
    assert_eq!(server_files(&api).await.len(), 2);
}
