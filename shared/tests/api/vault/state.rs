//! `GET /vault/state`: pages of changes after a cursor, and its parameters.

use serde_json::json;
use sqlx::PgPool;
use steel_core::domain::{ContentHash, VaultPath};

use crate::support::{TestApp, TestDevice, oracle, seed};

/// A device whose user has twelve files, `p/00.md` to `p/11.md`, written straight into the
/// database (these tests are about paging, not uploads).
async fn twelve_files(app: &TestApp) -> TestDevice {
    let dev = app.new_user_device("pager").await;
    for i in 0..12 {
        let path = VaultPath::parse(&format!("p/{i:02}.md")).expect("path");
        seed::commit_one(
            &app.db,
            dev.user_id,
            Some(dev.device_id),
            &path,
            0,
            &ContentHash::of(&[i]),
            1,
        )
        .await;
    }
    dev
}

/// The cursor of everything: what a state read from the start answers.
async fn head_cursor(app: &TestApp, dev: &TestDevice) -> String {
    let all = app.state(dev, &[]).await;
    assert_eq!(all.body["has_more"], false);
    all.body["cursor"].as_str().expect("cursor").to_owned()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn state_pages_with_a_monotonic_cursor(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = twelve_files(&app).await;

    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut q = vec![("limit", "5")];
        if let Some(c) = cursor.as_deref() {
            q.push(("cursor", c));
        }
        let answer = app.state(&dev, &q).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        pages += 1;
        seen.extend(
            answer.body["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| f["path"].as_str().expect("p").to_owned()),
        );
        let next = answer.body["cursor"].as_str().expect("cursor").to_owned();
        if let Some(prev) = &cursor {
            let n = |c: &str| c[1..].parse::<i64>().expect("seq");
            assert!(n(&next) >= n(prev), "cursor went backwards");
        }
        cursor = Some(next);
        if answer.body["has_more"] == false {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 12);
    let last = cursor.expect("cursor");
    assert_eq!(last, head_cursor(&app, &dev).await);
    let empty = app.state(&dev, &[("cursor", &last)]).await;
    assert_eq!(empty.body["files"], json!([]));
    assert_eq!(empty.body["cursor"], last.as_str());
    oracle::assert_consistent(&pool, false).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn garbled_or_future_cursors_require_a_resync(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = twelve_files(&app).await;

    for bad in ["garbled", "c", "c99999"] {
        let answer = app.state(&dev, &[("cursor", bad)]).await;
        assert_eq!(
            (answer.status, answer.code()),
            (410, "resync_required"),
            "{bad}"
        );
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn limits_out_of_range_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = twelve_files(&app).await;

    for bad in ["0", "5001", "x"] {
        let answer = app.state(&dev, &[("limit", bad)]).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid_limit"),
            "{bad}"
        );
    }
}

/// `since` (the seed's timestamp contract) reads changes after an instant, and answers the
/// head cursor so the device switches to cursors.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn since_reads_changes_after_an_instant_and_answers_the_head_cursor(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = twelve_files(&app).await;
    let last = head_cursor(&app, &dev).await;

    let answer = app.state(&dev, &[("since", "yesterday")]).await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_since"));
    let answer = app.state(&dev, &[("since", "2000-01-01T00:00:00Z")]).await;
    assert_eq!(answer.body["files"].as_array().map(Vec::len), Some(12));
    assert_eq!(answer.body["cursor"], last.as_str());
    let answer = app.state(&dev, &[("since", "2100-01-01T00:00:00Z")]).await;
    assert_eq!(answer.body["files"], json!([]));
    assert_eq!(
        answer.body["cursor"],
        last.as_str(),
        "up to date: the head cursor"
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn state_needs_a_valid_token(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    twelve_files(&app).await;

    let answer = app.state("not-a-token", &[]).await;
    assert_eq!(answer.status, 401);
}

/// Issue 13, defect 5: a cursor that must not be stored looked exactly like one that must.
/// A reads state (c0), B commits, A commits its own push: A's next read from the cursor it
/// stored (state's) has B's change; confirm and delete hand out no cursor to store instead.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn only_state_hands_out_a_cursor_so_no_change_is_skipped(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.new_user_device("trap").await;
    let b = app.another_device(a.user_id, "phone").await;
    let stored = head_cursor(&app, &a).await;

    app.sync_up(&b, "from-b.md", 0, b"B's note").await;
    let confirmed = app.sync_file(&a, "from-a.md", 0, b"A's note").await;
    assert!(
        confirmed.body.get("cursor").is_none(),
        "{:?}",
        confirmed.body
    );
    let deleted = app
        .delete(
            &a,
            json!({"files": [{"path": "from-a.md", "base_version": 1}]}),
        )
        .await;
    assert!(deleted.body.get("cursor").is_none(), "{:?}", deleted.body);

    let next = app.state(&a, &[("cursor", &stored)]).await;
    let paths: Vec<&str> = next.body["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"from-b.md"),
        "B's change reaches A: {paths:?}"
    );
}

/// A page ends at its byte cap before its `limit`: 1,500 notes with names of about 900
/// bytes are 1.5 MB of entries, more than one page carries (`wire::page::MAX_PAGE_BYTES`).
/// The first page stops early with `has_more`, the second carries the rest, and together
/// they name every note once.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_page_ends_at_its_byte_cap_and_the_next_goes_on_from_there(pool: PgPool) {
    use steel_core::db::writes;
    use steel_core::domain::Version;
    use steel_core::vault::rules::{Content, Proposal};
    use steel_protocol::wire::page::MAX_PAGE_BYTES;

    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("long-names").await;
    let hash = ContentHash::of(b"same bytes");
    steel_core::db::blobs::mark_verified(&app.db, dev.user_id, &[(hash, 10)])
        .await
        .expect("blob");
    let long = "n".repeat(200);
    let proposals: Vec<Proposal> = (0..1500)
        .map(|i| Proposal {
            path: VaultPath::parse(&format!("{long}/{long}/{long}/{long}/{i:04}.md"))
                .expect("path"),
            base: Version::new(0).expect("version"),
            content: Content { hash, size: 10 },
        })
        .collect();
    for batch in proposals.chunks(500) {
        writes::commit_versions(&app.db, dev.user_id, Some(dev.device_id), batch, u64::MAX)
            .await
            .expect("commit");
    }

    let first = app.state(&dev, &[("limit", "5000")]).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let size = serde_json::to_vec(&first.body).expect("json").len();
    let n = first.body["files"].as_array().expect("files").len();
    assert!(size <= MAX_PAGE_BYTES, "{size} bytes");
    assert!(n > 500 && n < 1500, "{n} entries");
    assert_eq!(first.body["has_more"], true);
    let cursor = first.body["cursor"].as_str().expect("cursor");
    assert!(
        cursor.starts_with('l'),
        "a full listing's page cursor: {cursor}"
    );

    let second = app
        .state(&dev, &[("limit", "5000"), ("cursor", cursor)])
        .await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["has_more"], false);
    let mut names: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|a| a.body["files"].as_array().expect("files").clone())
        .map(|f| f["path"].as_str().expect("path").to_owned())
        .collect();
    assert_eq!(names.len(), 1500);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 1500, "no note twice");
    let last = second.body["cursor"].as_str().expect("cursor");
    assert!(last.starts_with('c'), "the feed's cursor, to store: {last}");
    let after = app.state(&dev, &[("cursor", last)]).await;
    assert_eq!(after.body["files"], json!([]));
}
