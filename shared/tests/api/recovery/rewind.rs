//! `POST /vault/restore` with `as_of`: the vault (or a folder) back to how it was at a
//! moment, in pages, only by adding versions, so a rewind is undone by another rewind.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::db::{blobs, writes};
use steel_core::domain::{ContentHash, DeviceId, UserId, VaultPath, Version};
use steel_core::vault::rules::{Content, Decision, Proposal};

use crate::support::{TestApp, TestDevice, oracle};

/// Every note: path → (deleted?, content hash of a live note; a tombstone's hash is only
/// that of whatever it deleted last).
type Snapshot = BTreeMap<String, (bool, String)>;

async fn snapshot(pool: &PgPool, user: UserId) -> Snapshot {
    let rows: Vec<(String, bool, String)> =
        sqlx::query_as("SELECT path, is_deleted, content_hash FROM file_state WHERE user_id = $1")
            .bind(user)
            .fetch_all(pool)
            .await
            .expect("snapshot");
    rows.into_iter()
        .map(|(p, d, h)| (p, (d, if d { String::new() } else { h })))
        .collect()
}

/// The database's clock now, between two commits.
async fn moment(pool: &PgPool) -> DateTime<Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let t = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(pool)
        .await
        .expect("clock");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    t
}

/// A vault written straight through the data layer (with verified blobs, no S3 objects:
/// these tests are about versions), in batches of 1,000.
struct Vault<'a> {
    pool: &'a PgPool,
    user: UserId,
    device: DeviceId,
    versions: BTreeMap<String, i64>,
}

impl Vault<'_> {
    /// Writes `content(path)` for every path: new notes, edits or revivals.
    async fn write(&mut self, paths: &[String], tag: &str) {
        for chunk in paths.chunks(1000) {
            let proposals: Vec<Proposal> = chunk
                .iter()
                .map(|p| Proposal {
                    path: VaultPath::parse(p).expect("path"),
                    base: Version::new(*self.versions.get(p).unwrap_or(&0)).expect("v"),
                    content: Content {
                        hash: ContentHash::of(format!("{p} {tag}").as_bytes()),
                        size: 10,
                    },
                })
                .collect();
            let hashes: Vec<(ContentHash, i64)> =
                proposals.iter().map(|p| (p.content.hash, 10)).collect();
            blobs::mark_verified(self.pool, self.user, &hashes)
                .await
                .expect("blobs");
            let batch = writes::commit_versions(
                self.pool,
                self.user,
                Some(self.device),
                &proposals,
                u64::MAX,
            )
            .await
            .expect("commit");
            for (p, o) in proposals.iter().zip(batch.outcomes) {
                assert!(
                    matches!(o.decision, Decision::Write { .. }),
                    "{}: {:?}",
                    p.path,
                    o.decision
                );
                self.versions
                    .insert(p.path.to_string(), o.row.expect("row").version);
            }
        }
    }

    async fn delete(&mut self, paths: &[String]) {
        for chunk in paths.chunks(1000) {
            let deletes: Vec<(VaultPath, Version)> = chunk
                .iter()
                .map(|p| {
                    (
                        VaultPath::parse(p).expect("path"),
                        Version::new(self.versions[p]).expect("v"),
                    )
                })
                .collect();
            let batch =
                writes::delete_files(self.pool, self.user, Some(self.device), &deletes, None)
                    .await
                    .expect("delete");
            for ((p, _), o) in deletes.iter().zip(batch.outcomes) {
                self.versions
                    .insert(p.to_string(), o.row.expect("row").version);
            }
        }
    }
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!("notes/{:02}/{i:05}.md", i % 50))
        .collect()
}

/// Rewinds through the API, page after page; the summed counts.
async fn rewind(app: &TestApp, dev: &TestDevice, mut body: Value) -> BTreeMap<&'static str, u64> {
    let mut totals = BTreeMap::new();
    let mut pages = 0;
    loop {
        let answer = app.restore(dev, body.clone()).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        for key in ["restored", "deleted", "unchanged", "kept_newer"] {
            *totals.entry(key).or_default() += answer.body[key].as_u64().expect("count");
        }
        *totals.entry("skipped").or_default() += answer.body["skipped"]
            .as_array()
            .map_or(0, |s| s.len() as u64);
        pages += 1;
        assert!(pages < 100, "the rewind never ends");
        match answer.body["resume"].as_str() {
            Some(resume) => body["resume"] = json!(resume),
            None => break,
        }
    }
    totals.insert("pages", pages);
    totals
}

/// A vault of 10,000 notes with a history: edits and deletes before `T`, then edits,
/// deletes, revivals and new notes after it. A rewind to `T` gives back exactly the vault
/// at `T` (newer notes kept), and a second rewind to just before the first undoes it.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_rewind_of_ten_thousand_notes_restores_the_moment_and_is_undone_by_another(pool: PgPool) {
    let app = TestApp::builder(pool.clone())
        .setting("VAULT_QUOTA_BYTES", "10000000")
        .spawn()
        .await;
    let dev = app.new_user_device("rewinder").await;
    let mut vault = Vault {
        pool: &pool,
        user: dev.user_id,
        device: dev.device_id,
        versions: BTreeMap::new(),
    };
    vault.write(&names(0..10_000), "v1").await;
    vault.write(&names(0..3_000), "v2").await;
    vault.delete(&names(9_000..10_000)).await;
    let t = moment(&pool).await;
    let at_t = snapshot(&pool, dev.user_id).await;

    vault.write(&names(2_000..4_000), "v3").await;
    vault.delete(&names(4_000..5_500)).await;
    vault.write(&names(9_000..9_300), "back").await;
    vault.write(&names(10_000..10_500), "new").await;
    let before_rewind = moment(&pool).await;
    let pre_rewind = snapshot(&pool, dev.user_id).await;

    let counts = rewind(&app, &dev, json!({"as_of": t, "limit": 1000})).await;
    assert_eq!(
        counts["pages"], 11,
        "10,500 notes in pages of 1,000: {counts:?}"
    );
    assert_eq!(counts["kept_newer"], 500);
    assert_eq!(counts["skipped"], 0);
    assert_eq!(counts["restored"], 2_000 + 1_500, "{counts:?}");
    assert_eq!(counts["deleted"], 300, "{counts:?}");
    let after = snapshot(&pool, dev.user_id).await;
    for (path, then) in &at_t {
        assert_eq!(after.get(path), Some(then), "{path} is as it was at T");
    }
    let newer: Vec<&String> = after.keys().filter(|p| !at_t.contains_key(*p)).collect();
    assert_eq!(newer.len(), 500);
    assert!(newer.iter().all(|p| !after[*p].0), "newer notes are kept");
    oracle::assert_consistent(&pool, true).await;

    // Undo: back to just before the first rewind, exactly.
    rewind(&app, &dev, json!({"as_of": before_rewind})).await;
    assert_eq!(snapshot(&pool, dev.user_id).await, pre_rewind);
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn remove_newer_deletes_the_notes_created_since_and_they_stay_restorable(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("rewinder").await;
    app.sync_up(&dev, "old.md", 0, b"old").await;
    let t = moment(&pool).await;
    app.sync_up(&dev, "new.md", 0, b"new").await;

    let counts = rewind(&app, &dev, json!({"as_of": t, "remove_newer": true})).await;
    assert_eq!(
        (counts["deleted"], counts["unchanged"]),
        (1, 1),
        "{counts:?}"
    );
    let deleted = app.deleted(&dev, &[]).await;
    assert_eq!(deleted.body["files"][0]["path"], "new.md");
    assert_eq!(deleted.body["files"][0]["last_version"]["restorable"], true);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_rewind_of_one_folder_leaves_the_others_alone(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("rewinder").await;
    app.sync_up(&dev, "thoughts/a.md", 0, b"a1").await;
    app.sync_up(&dev, "sources/b.md", 0, b"b1").await;
    let t = moment(&pool).await;
    app.sync_up(&dev, "thoughts/a.md", 1, b"a2").await;
    app.sync_up(&dev, "sources/b.md", 1, b"b2").await;
    app.drain_notices().await;

    let counts = rewind(&app, &dev, json!({"as_of": t, "prefix": "thoughts"})).await;
    assert_eq!(counts["restored"], 1, "{counts:?}");
    let pulled = app
        .pull(&dev, json!({"paths": ["thoughts/a.md", "sources/b.md"]}))
        .await;
    let files = pulled.body["files"].as_array().expect("files");
    assert_eq!(app.download(&files[0]["download_url"]).await, b"a1");
    assert_eq!(app.download(&files[1]["download_url"]).await, b"b2");
    let notices = app.drain_notices().await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["paths"], json!(["thoughts/a.md"]));
}
