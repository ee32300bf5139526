//! Bad input: a bad file is rejected on its own, an unusable request as a whole, and
//! neither writes anything.

use serde_json::{Value, json};
use sqlx::PgPool;

use super::{entry, one_file, sha256_hex};
use crate::support::{Anonymous, Answer, TestApp, TestDevice, oracle};

/// One bad file of each kind, a file over the quota (of 1,000,000 bytes), and a duplicate.
fn bad_batch() -> Value {
    let x = sha256_hex(b"x");
    json!({"files": [
        {"path": "/abs.md", "base_version": 0, "content_hash": x, "size_bytes": 1},
        {"path": "a/../b.md", "base_version": 0, "content_hash": x, "size_bytes": 1},
        {"path": ".steel/sync.db", "base_version": 0, "content_hash": x, "size_bytes": 1},
        {"path": "back\\slash.md", "base_version": 0, "content_hash": x, "size_bytes": 1},
        {"path": "ctrl\u{7}.md", "base_version": 0, "content_hash": x, "size_bytes": 1},
        {"path": "hash.md", "base_version": 0, "content_hash": "ABC", "size_bytes": 1},
        {"path": "neg.md", "base_version": 0, "content_hash": x, "size_bytes": -1},
        {"path": "huge.md", "base_version": 0, "content_hash": x, "size_bytes": 60 * 1024 * 1024},
        {"path": "quota.md", "base_version": 0, "content_hash": x, "size_bytes": 1_000_001},
        {"path": "base.md", "base_version": -1, "content_hash": x, "size_bytes": 1},
        {"path": "ok.md", "base_version": 0, "content_hash": sha256_hex(b"ok"), "size_bytes": 2},
        {"path": "ok.md", "base_version": 0, "content_hash": sha256_hex(b"ok"), "size_bytes": 2},
    ]})
}

/// What every file of `bad_batch` is rejected for.
const REJECTED: [(&str, &str); 11] = [
    (".steel/sync.db", "invalid_path"),
    ("/abs.md", "invalid_path"),
    ("a/../b.md", "invalid_path"),
    ("back\\slash.md", "invalid_path"),
    ("base.md", "invalid_base_version"),
    ("ctrl\u{7}.md", "invalid_path"),
    ("hash.md", "invalid_content_hash"),
    ("huge.md", "invalid_size"),
    ("neg.md", "invalid_size"),
    ("ok.md", "duplicate_path"),
    ("quota.md", "quota_exceeded"),
];

/// (path, code) of every rejected file, sorted.
fn rejected(answer: &Answer) -> Vec<(&str, &str)> {
    let mut codes: Vec<(&str, &str)> = answer.body["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["path"].as_str().expect("path"),
                r["code"].as_str().expect("code"),
            )
        })
        .collect();
    codes.sort();
    codes
}

/// A device with one committed file, `kept.md`.
async fn one_committed(app: &TestApp) -> TestDevice {
    let dev = app.new_user_device("paths").await;
    app.sync_up(&dev, "kept.md", 0, b"kept").await;
    dev
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn push_rejects_each_bad_file_on_its_own(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = one_committed(&app).await;

    let answer = app.push(&dev, bad_batch()).await;
    assert_eq!(answer.status, 200, "push: {:?}", answer.body);
    assert_eq!(rejected(&answer), REJECTED, "push");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn confirm_rejects_each_bad_file_on_its_own(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = one_committed(&app).await;

    let answer = app.confirm(&dev, bad_batch()).await;
    assert_eq!(answer.status, 200, "confirm: {:?}", answer.body);
    // Confirm checks the bytes first: never uploaded, so missing (the quota is checked again
    // when committing).
    let missing: Vec<&str> = answer.body["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .map(|m| m["path"].as_str().expect("path"))
        .collect();
    assert_eq!(missing, vec!["quota.md", "ok.md"]);
    let mut codes = rejected(&answer);
    codes.push(("quota.md", "quota_exceeded"));
    codes.sort();
    assert_eq!(codes, REJECTED, "confirm");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn unusable_requests_are_refused_as_a_whole(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = one_committed(&app).await;

    // 1001 files, missing auth, a garbled body: whole-request 4xx.
    let many: Vec<Value> = (0..1001)
        .map(|i| entry(&format!("n{i}.md"), 0, b"x"))
        .collect();
    let answer = app.push(&dev, json!({"files": many})).await;
    assert_eq!((answer.status, answer.code()), (400, "too_many_files"));
    let answer = app.push(&Anonymous, json!({"files": []})).await;
    assert_eq!((answer.status, answer.code()), (401, "missing_token"));
    let answer = app
        .confirm(&dev, json!({"files": [{"path": "x.md"}]}))
        .await;
    assert_eq!((answer.status, answer.code()), (400, "missing_field"));
    let answer = app.delete(&dev, json!({"files": "nope"})).await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_type"));
    let answer = app.pull(&dev, json!({})).await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_request"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn refused_input_writes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = one_committed(&app).await;

    app.push(&dev, one_file("KEPT.md", 0, b"x")).await;
    app.confirm(&dev, one_file("KEPT.md", 0, b"kept")).await;
    app.push(&dev, bad_batch()).await;
    app.confirm(&dev, bad_batch()).await;
    let many: Vec<Value> = (0..1001)
        .map(|i| entry(&format!("n{i}.md"), 0, b"x"))
        .collect();
    app.push(&dev, json!({"files": many})).await;
    app.confirm(&dev, json!({"files": [{"path": "x.md"}]}))
        .await;
    app.delete(&dev, json!({"files": "nope"})).await;

    // Still one file at version 1, announced once.
    assert_eq!(oracle::count(&pool, "file_versions").await, 1);
    assert_eq!(app.drain_notices().await.len(), 1, "only the first commit");
}

/// Versions no server ever hands out: negative, past 2^53 − 1, past i64, not integers.
const OUT_OF_RANGE: [&str; 6] = [
    "-1",
    "9007199254740992",
    "9223372036854775807",
    "18446744073709551615",
    "1e300",
    "2.5",
];

/// `{"files": [{path, base_version: <raw>, ...}]}` with the raw number spliced in.
fn with_base(raw: &str, bytes: &[u8]) -> Value {
    serde_json::from_str(&format!(
        r#"{{"files": [{{"path": "n.md", "base_version": {raw}, "content_hash": "{}",
                        "size_bytes": {}}}]}}"#,
        sha256_hex(bytes),
        bytes.len()
    ))
    .expect("body")
}

fn only_rejection(answer: &Answer) -> (&str, &str) {
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let r = rejected(answer);
    assert_eq!(r.len(), 1, "{:?}", answer.body);
    r[0]
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn base_versions_out_of_range_are_refused_per_file_everywhere(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("huge").await;
    // The bytes are uploaded, so only the base version can stop a confirm.
    app.sync_up(&dev, "other.md", 0, b"n").await;
    for raw in OUT_OF_RANGE {
        let body = with_base(raw, b"n");
        for answer in [
            app.push(&dev, body.clone()).await,
            app.confirm(&dev, body).await,
        ] {
            assert_eq!(
                only_rejection(&answer),
                ("n.md", "invalid_base_version"),
                "{raw}"
            );
        }
        let delete: Value = serde_json::from_str(&format!(
            r#"{{"files": [{{"path": "other.md", "base_version": {raw}}}]}}"#
        ))
        .expect("body");
        let deleted = app.delete(&dev, delete).await;
        assert_eq!(
            only_rejection(&deleted),
            ("other.md", "invalid_base_version"),
            "{raw}"
        );
        let pull: Value = serde_json::from_str(&format!(
            r#"{{"files": [{{"path": "other.md", "version": {raw}}}]}}"#
        ))
        .expect("body");
        let pulled = app.pull(&dev, pull).await;
        assert_eq!(
            only_rejection(&pulled),
            ("other.md", "invalid_version"),
            "{raw}"
        );
    }
    assert_eq!(
        oracle::history(&pool, "other.md").await.len(),
        1,
        "nothing written"
    );
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_largest_safe_base_version_is_a_plain_conflict(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("huge").await;
    app.sync_up(&dev, "n.md", 0, b"n").await;
    let answer = app.confirm(&dev, with_base("9007199254740991", b"n")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["conflicts"][0]["server_version"], 1);
}
