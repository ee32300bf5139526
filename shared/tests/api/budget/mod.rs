//! Per-account request budgets (`READ_`, `WRITE_`, `DOWNLOAD_BUDGET_*`): a bucket refuses
//! exactly past its size and refills with time (the limiter's clock is injected), refuses
//! before doing anything, keeps its three budgets apart, and is one bucket for every
//! function instance of the account.

mod instances;

use chrono::{TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use steel_core::budget::Clock;

use crate::support::{Answer, TestApp};
use crate::vault::one_file;

/// An app whose accounts may read 5 times at once and once a second after that, write 3
/// times at once and once a second, and name 1,000 files in pulls at once and 100 a second
/// after that; its limiter reads `clock`.
async fn app(pool: &PgPool, clock: &Clock) -> TestApp {
    TestApp::builder(pool.clone())
        .setting("READ_BUDGET_BURST", "5")
        .setting("READ_BUDGET_PER_MINUTE", "60")
        .setting("WRITE_BUDGET_BURST", "3")
        .setting("WRITE_BUDGET_PER_MINUTE", "60")
        .setting("DOWNLOAD_BUDGET_BURST", "1000")
        .setting("DOWNLOAD_BUDGET_PER_MINUTE", "6000")
        .clock(clock.clone())
        .spawn()
        .await
}

/// A 429 `rate_limited` with `Retry-After: seconds`.
fn assert_limited(answer: &Answer, seconds: &str) {
    assert_eq!(answer.status, 429, "{:?}", answer.body);
    assert_eq!(answer.code(), "rate_limited");
    assert_eq!(
        answer.retry_after.as_deref(),
        Some(seconds),
        "{:?}",
        answer.body
    );
    let message = answer.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("try again in"), "{message}");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_budget_refuses_exactly_past_its_size_and_refills_with_time(pool: PgPool) {
    let clock = Clock::manual(Utc::now());
    let app = app(&pool, &clock).await;
    let dev = app.new_user_device("budget-reads").await;
    for i in 0..5 {
        let answer = app.state(&dev, &[]).await;
        assert_eq!(answer.status, 200, "read {i}: {:?}", answer.body);
    }
    assert_limited(&app.state(&dev, &[]).await, "1");
    // Every read route spends from the same budget.
    assert_limited(&app.history(&dev, &[("path", "a.md")]).await, "1");
    assert_limited(&app.deleted(&dev, &[]).await, "1");
    assert_limited(&app.account(&dev).await, "1");

    // A refusal spends nothing: 999 ms later the bucket holds 0.999 of a token...
    clock.advance(TimeDelta::milliseconds(999));
    assert_limited(&app.state(&dev, &[]).await, "1");
    // ...and one millisecond later exactly one.
    clock.advance(TimeDelta::milliseconds(1));
    assert_eq!(app.state(&dev, &[]).await.status, 200);
    assert_limited(&app.state(&dev, &[]).await, "1");

    // A long pause fills the bucket to its size, not beyond.
    clock.advance(TimeDelta::hours(1));
    for _ in 0..5 {
        assert_eq!(app.state(&dev, &[]).await.status, 200);
    }
    assert_limited(&app.state(&dev, &[]).await, "1");

    // Another account has its own budget.
    let other = app.new_user_device("budget-reads-other").await;
    assert_eq!(app.state(&other, &[]).await.status, 200);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_three_budgets_are_apart_and_a_refused_write_does_nothing(pool: PgPool) {
    let clock = Clock::manual(Utc::now());
    let app = app(&pool, &clock).await;
    let dev = app.new_user_device("budget-writes").await;
    // Reads spent: writes and downloads are untouched.
    for _ in 0..5 {
        assert_eq!(app.state(&dev, &[]).await.status, 200);
    }
    assert_limited(&app.state(&dev, &[]).await, "1");
    let v1 = app.sync_up(&dev, "a.md", 0, b"first").await; // push + confirm: 2 writes
    let pushed = app.push(&dev, one_file("a.md", v1, b"second")).await; // the third
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);

    // The fourth write, a confirm, is refused before it looks at anything: no version.
    let put = app.upload(&pushed.body["uploads"][0], b"second").await;
    assert!(put.status().is_success());
    let confirm = app.confirm(&dev, one_file("a.md", v1, b"second")).await;
    assert_limited(&confirm, "1");
    assert_limited(
        &app.delete(&dev, one_file("a.md", v1, b"second")).await,
        "1",
    );
    assert_limited(
        &app.register(&dev, json!({"device_name": "Mac", "platform": "macos"}))
            .await,
        "1",
    );
    // Both bulk routes spend a write token too, refused before they look at the body.
    let pack = json!({"content_hash": steel_core::domain::ContentHash::of(b"p").to_hex(),
                      "size_bytes": 1});
    assert_limited(&app.bulk(&dev, pack).await, "1");
    assert_limited(
        &app.bulk_confirm(
            &dev,
            json!({"pack_id": uuid::Uuid::new_v4().to_string(), "blobs": [], "files": []}),
        )
        .await,
        "1",
    );
    let version: i64 =
        sqlx::query_scalar("SELECT version FROM file_state WHERE user_id = $1 AND path = 'a.md'")
            .bind(dev.user_id)
            .fetch_one(&pool)
            .await
            .expect("version");
    assert_eq!(version, v1, "the refused confirm committed nothing");
    clock.advance(TimeDelta::seconds(1));
    let confirm = app.confirm(&dev, one_file("a.md", v1, b"second")).await;
    assert_eq!(confirm.status, 200, "{:?}", confirm.body);

    // Pulls spend one download token per file named: 600 of 1,000, then 600 more do not
    // fit until 200 more tokens came in (2 s at 100 a second).
    let paths: Vec<String> = (0..600).map(|i| format!("n{i}.md")).collect();
    let first = app.pull(&dev, json!({ "paths": paths })).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["not_found"].as_array().map(Vec::len), Some(600));
    assert_limited(&app.pull(&dev, json!({ "paths": paths })).await, "2");
    // A pull of one file still fits: the refusal took nothing.
    let one = app.pull(&dev, json!({"paths": ["a.md"]})).await;
    assert_eq!(one.status, 200, "{:?}", one.body);
    // 2 s later: 399 + 200 = 599, one short (the single file's token)...
    clock.advance(TimeDelta::seconds(2));
    assert_limited(&app.pull(&dev, json!({ "paths": paths })).await, "1");
    // ...which 10 ms bring.
    clock.advance(TimeDelta::milliseconds(10));
    assert_eq!(app.pull(&dev, json!({ "paths": paths })).await.status, 200);

    // A packs request spends one download token per hash, from the same budget: the bucket
    // is empty, 600 tokens take 6 s.
    let hashes: Vec<String> = (0..600u32)
        .map(|i| steel_core::domain::ContentHash::of(&i.to_le_bytes()).to_hex())
        .collect();
    assert_limited(&app.packs(&dev, json!({ "hashes": hashes })).await, "6");
    clock.advance(TimeDelta::seconds(6));
    let packs = app.packs(&dev, json!({ "hashes": hashes })).await;
    assert_eq!(packs.status, 200, "{:?}", packs.body);
    assert_eq!(packs.body["unpacked"].as_array().map(Vec::len), Some(600));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn delete_account_is_never_refused(pool: PgPool) {
    let clock = Clock::manual(Utc::now());
    let app = app(&pool, &clock).await;
    let dev = app.new_user_device("budget-leaves").await;
    for _ in 0..3 {
        assert_eq!(
            app.register(&dev, json!({"device_name": "Mac", "platform": "macos"}))
                .await
                .status,
            200
        );
    }
    assert_limited(&app.logout(&dev, None).await, "1");
    let gone = app.delete_account(&dev, json!({"confirm": "DELETE"})).await;
    assert_eq!(gone.status, 200, "{:?}", gone.body);
    // The account's buckets went with it.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM request_budgets WHERE user_id = $1")
        .bind(dev.user_id)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 0);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_removed_device_is_told_401_not_429(pool: PgPool) {
    let clock = Clock::manual(Utc::now());
    let app = app(&pool, &clock).await;
    let dev = app.new_user_device("budget-removed").await;
    for _ in 0..5 {
        assert_eq!(app.state(&dev, &[]).await.status, 200);
    }
    assert_limited(&app.state(&dev, &[]).await, "1");
    sqlx::query("UPDATE devices SET removed_at = now() WHERE id = $1")
        .bind(dev.device_id)
        .execute(&pool)
        .await
        .expect("remove");
    let answer = app.state(&dev, &[]).await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    assert_eq!(answer.code(), "invalid_token");
}

/// Every route that spends from a budget documents `429 rate_limited` with a required
/// `Retry-After`; sign-in, refresh and `DELETE /account` spend from none and do not.
#[test]
fn openapi_documents_the_429_on_every_budgeted_route() {
    let body = json!({"error": {"code": "rate_limited", "message": "over budget"}});
    for op in &crate::support::openapi::spec().operations {
        let exempt = ["POST /auth/login", "POST /auth/refresh", "DELETE /account"]
            .contains(&op.route().as_str());
        let documented = op.responses.get("429").is_some_and(|r| {
            r.content
                .get("application/json")
                .is_some_and(|schema| schema.check(&body).is_ok())
                && r.headers.get("retry-after").is_some_and(|h| h.required)
        });
        assert_eq!(documented, !exempt, "{}: 429 rate_limited", op.route());
    }
}
