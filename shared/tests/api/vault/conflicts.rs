//! Concurrent edits of one version: one wins, the other gets what it needs to merge.

use serde_json::json;
use sqlx::PgPool;

use super::{one_file, sha256_hex};
use crate::support::{Answer, TestApp, TestDevice, oracle};

const BASE: &[u8] = b"shared base\n";
const MAC_EDIT: &[u8] = b"shared base\nedited on the Mac\n";
const PHONE_EDIT: &[u8] = b"shared base\nedited on the phone\n";

/// The outcome of two devices confirming their edits of version 1 at the same time.
struct Race {
    winner: Answer,
    loser: Answer,
    loser_bytes: &'static [u8],
    loser_dev: TestDevice,
}

/// `shared.md` at version 1 (BASE); the Mac and the phone upload their edits of it, then
/// confirm them concurrently.
async fn race(app: &TestApp) -> Race {
    let mac = app.new_user_device("race").await;
    let phone = app.another_device(mac.user_id, "iPhone").await;
    assert_eq!(app.sync_up(&mac, "shared.md", 0, BASE).await, 1);
    for (dev, bytes) in [(&mac, MAC_EDIT), (&phone, PHONE_EDIT)] {
        let pushed = app.push(dev, one_file("shared.md", 1, bytes)).await;
        assert!(
            app.upload(&pushed.body["uploads"][0], bytes)
                .await
                .status()
                .is_success()
        );
    }
    let (a, b) = tokio::join!(
        app.confirm(&mac, one_file("shared.md", 1, MAC_EDIT)),
        app.confirm(&phone, one_file("shared.md", 1, PHONE_EDIT)),
    );
    if a.body["confirmed"].as_array().expect("arr").len() == 1 {
        Race {
            winner: a,
            loser: b,
            loser_bytes: PHONE_EDIT,
            loser_dev: phone,
        }
    } else {
        Race {
            winner: b,
            loser: a,
            loser_bytes: MAC_EDIT,
            loser_dev: mac,
        }
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn concurrent_confirms_from_one_base_let_exactly_one_win(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let Race { winner, loser, .. } = race(&app).await;

    assert_eq!(winner.body["confirmed"][0]["version"], 2);
    assert_eq!(loser.body["confirmed"], json!([]));
    let conflict = &loser.body["conflicts"][0];
    assert_eq!(conflict["server_version"], 2);
    assert_eq!(
        conflict["content_hash"],
        winner.body["confirmed"][0]["content_hash"]
    );
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_loser_merges_the_winners_bytes_and_no_version_is_lost(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let race = race(&app).await;

    // The loser can fetch the winner's bytes to merge.
    let winner_bytes = app
        .download(&race.loser.body["conflicts"][0]["download_url"])
        .await;
    assert_ne!(winner_bytes, race.loser_bytes);
    // ...and commit its merge on top.
    let merged = b"shared base\nedited on the Mac\nedited on the phone\n";
    assert_eq!(
        app.sync_up(&race.loser_dev, "shared.md", 2, merged).await,
        3
    );
    let history = oracle::history(&pool, "shared.md").await;
    assert_eq!(
        history.iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(history[0].1, sha256_hex(BASE));
    assert_eq!(history[1].1, sha256_hex(&winner_bytes));
    assert_eq!(history[2].1, sha256_hex(merged));
    oracle::assert_consistent(&pool, true).await;
}

/// Blobs are content-addressed: a newer version never overwrites an older one's bytes.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn every_past_version_stays_readable(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("race").await;
    app.sync_up(&mac, "shared.md", 0, BASE).await;
    app.sync_up(&mac, "shared.md", 1, MAC_EDIT).await;

    let old = app
        .pull(
            &mac,
            json!({"files": [{"path": "shared.md", "version": 1}]}),
        )
        .await;
    assert_eq!(
        app.download(&old.body["files"][0]["download_url"]).await,
        BASE
    );
}
