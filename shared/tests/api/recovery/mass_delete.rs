//! The mass-delete guard: a delete that would make more than 50 tombstones in an hour and
//! more than 25 % of the notes is held (409, nothing written) unless confirmed, counted
//! across requests.

use serde_json::Value;
use sqlx::PgPool;

use super::deletes;
use crate::support::{TestApp, TestDevice, oracle, seed};

/// A device whose vault holds `n` notes `n000.md`..., all at version 1.
async fn vault_of(app: &TestApp, n: usize) -> TestDevice {
    let dev = app.new_user_device("mass").await;
    for i in 0..n {
        let path = steel_core::domain::VaultPath::parse(&format!("n{i:03}.md")).expect("path");
        let hash = steel_core::domain::ContentHash::of(path.as_str().as_bytes());
        seed::commit_one(
            &app.db,
            dev.user_id,
            Some(dev.device_id),
            &path,
            0,
            &hash,
            1,
        )
        .await;
    }
    dev
}

fn range(from: usize, to: usize) -> Vec<(String, i64)> {
    (from..to).map(|i| (format!("n{i:03}.md"), 1)).collect()
}

fn body(files: &[(String, i64)], confirm: bool) -> Value {
    let refs: Vec<(&str, i64)> = files.iter().map(|(p, v)| (p.as_str(), *v)).collect();
    let mut b = deletes(&refs);
    if confirm {
        b["confirm_mass_delete"] = Value::Bool(true);
    }
    b
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn one_big_delete_is_held_and_writes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = vault_of(&app, 100).await;
    let answer = app.delete(&dev, body(&range(0, 60), false)).await;
    assert_eq!(
        (answer.status, answer.code()),
        (409, "mass_delete_held"),
        "{:?}",
        answer.body
    );
    let details = &answer.body["error"]["details"];
    assert_eq!(
        (
            details["requested"].as_u64(),
            details["deleted_last_hour"].as_u64(),
            details["live"].as_u64()
        ),
        (Some(60), Some(0), Some(100))
    );
    assert_eq!(
        oracle::count(&pool, "file_versions").await,
        100,
        "nothing written"
    );
    assert!(app.drain_notices().await.is_empty());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn small_batches_cannot_slip_past(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = vault_of(&app, 100).await;
    for batch in 0..5 {
        let answer = app
            .delete(&dev, body(&range(batch * 10, batch * 10 + 10), false))
            .await;
        assert_eq!(answer.status, 200, "batch {batch}: {:?}", answer.body);
    }
    // 50 so far; one more crosses both thresholds.
    let answer = app.delete(&dev, body(&range(50, 51), false)).await;
    assert_eq!((answer.status, answer.code()), (409, "mass_delete_held"));
    assert_eq!(answer.body["error"]["details"]["deleted_last_hour"], 50);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirmed_mass_delete_goes_through(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = vault_of(&app, 100).await;
    let answer = app.delete(&dev, body(&range(0, 100), true)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["deleted"].as_array().map(Vec::len), Some(100));
    oracle::assert_consistent(&pool, false).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deletes_below_either_threshold_go_through(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    // Many notes: 60 is over 50 but under 25 %.
    let big = vault_of(&app, 300).await;
    let answer = app.delete(&big, body(&range(0, 60), false)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    // Re-deleting deleted notes makes no new tombstone: never held.
    let again = app.delete(&big, body(&range(0, 60), false)).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_small_vault_can_be_emptied_below_the_count(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = vault_of(&app, 40).await;
    let answer = app.delete(&dev, body(&range(0, 40), false)).await;
    assert_eq!(answer.status, 200, "40 is under 50: {:?}", answer.body);
}
