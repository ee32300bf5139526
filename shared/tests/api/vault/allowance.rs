//! The allowance of unconfirmed uploads (`UNCONFIRMED_UPLOAD_BYTES`): push hands out upload
//! URLs for at most that many bytes that no confirm has recorded, within the orphan age plus
//! a URL's life, so repeated pushes that never confirm cannot fill the bucket.

use chrono::{TimeDelta, Utc};
use serde_json::json;
use sqlx::PgPool;
use steel_core::domain::UserId;

use super::{entry, one_file, sha256_hex};
use crate::support::TestApp;

const TWENTY: &[u8] = b"twenty bytes of note";
const OTHER: &[u8] = b"twenty other bytes!!";

/// An app whose users may hold 30 bytes of unconfirmed uploads (files of up to 20).
async fn app(pool: &PgPool) -> TestApp {
    TestApp::builder(pool.clone())
        .setting("MAX_FILE_BYTES", "20")
        .setting("UNCONFIRMED_UPLOAD_BYTES", "30")
        .spawn()
        .await
}

/// The user's grants: (hex hash, size), by hash.
async fn grants(pool: &PgPool, user: UserId) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT content_hash, size_bytes FROM upload_grants WHERE user_id = $1
         ORDER BY content_hash",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("grants")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_past_the_allowance_waits_until_uploads_are_confirmed(pool: PgPool) {
    let app = app(&pool).await;
    let dev = app.new_user_device("allowance").await;
    let first = app.push(&dev, one_file("a.md", 0, TWENTY)).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert!(first.body["uploads"][0]["upload_url"].is_string());

    // 20 + 20 > 30: refused as a whole, nothing handed out, and told when to come back.
    let second = app.push(&dev, one_file("b.md", 0, OTHER)).await;
    assert_eq!(second.status, 429, "{:?}", second.body);
    assert_eq!(second.code(), "upload_limit");
    let wait: i64 = second
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    // The first grant expires after the orphan age (24 h) plus the URL's 5 minutes.
    assert!(
        (24 * 3600..=24 * 3600 + 301).contains(&wait),
        "Retry-After {wait}"
    );
    assert_eq!(grants(&pool, dev.user_id).await.len(), 1);

    // The same content again is the same grant, not another 20 bytes.
    let again = app.push(&dev, one_file("a.md", 0, TWENTY)).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(grants(&pool, dev.user_id).await.len(), 1);

    // Once confirmed, those bytes are no longer unconfirmed: the next push goes through, and
    // the spent grant goes with it.
    assert!(
        app.upload(&again.body["uploads"][0], TWENTY)
            .await
            .status()
            .is_success()
    );
    let confirmed = app.confirm(&dev, one_file("a.md", 0, TWENTY)).await;
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
    let third = app.push(&dev, one_file("b.md", 0, OTHER)).await;
    assert_eq!(third.status, 200, "{:?}", third.body);
    assert_eq!(
        grants(&pool, dev.user_id).await,
        vec![(sha256_hex(OTHER), 20)]
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_larger_than_the_allowance_is_refused_for_good(pool: PgPool) {
    let app = app(&pool).await;
    let dev = app.new_user_device("allowance").await;
    let both = json!({"files": [entry("a.md", 0, TWENTY), entry("b.md", 0, OTHER)]});
    let answer = app.push(&dev, both).await;
    assert_eq!(answer.status, 400, "{:?}", answer.body);
    assert_eq!(answer.code(), "push_too_large");
    assert!(grants(&pool, dev.user_id).await.is_empty());
    // The same two contents as one push each, confirmed in between, are fine.
    app.sync_up(&dev, "a.md", 0, TWENTY).await;
    app.sync_up(&dev, "b.md", 0, OTHER).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn known_bytes_and_refused_files_take_no_allowance(pool: PgPool) {
    let app = app(&pool).await;
    let dev = app.new_user_device("allowance").await;
    app.sync_up(&dev, "a.md", 0, TWENTY).await;
    let pending = app.push(&dev, one_file("b.md", 0, OTHER)).await;
    assert_eq!(pending.status, 200);
    // 20 of 30 are out; the same bytes as a.md under another name need no URL at all.
    let copy = app
        .push(
            &dev,
            json!({"files": [entry("copy.md", 0, TWENTY), entry("a.md", 0, TWENTY)]}),
        )
        .await;
    assert_eq!(copy.status, 200, "{:?}", copy.body);
    assert!(copy.body["uploads"][0]["upload_url"].is_null());
    // A stale base is a conflict, not a grant.
    let stale = app
        .push(&dev, one_file("a.md", 0, b"stale edit, 20 bytes"))
        .await;
    assert_eq!(stale.status, 200, "{:?}", stale.body);
    assert_eq!(stale.body["conflicts"][0]["path"], "a.md");
    assert_eq!(grants(&pool, dev.user_id).await.len(), 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn grants_stop_counting_after_the_orphan_age_and_the_janitor_removes_them(pool: PgPool) {
    let app = app(&pool).await;
    let dev = app.new_user_device("allowance").await;
    assert_eq!(
        app.push(&dev, one_file("a.md", 0, TWENTY)).await.status,
        200
    );
    // Handed out a second less than 24 h 5 min ago: still counts.
    let age = |seconds: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE upload_grants SET granted_at = $1")
                .bind(Utc::now() - TimeDelta::seconds(seconds))
                .execute(&pool)
                .await
                .expect("age");
        }
    };
    age(24 * 3600 + 299).await;
    assert_eq!(app.push(&dev, one_file("b.md", 0, OTHER)).await.status, 429);
    // Older than that: an object uploaded through it is the sweep's, not the allowance's.
    age(24 * 3600 + 301).await;
    assert_eq!(app.push(&dev, one_file("b.md", 0, OTHER)).await.status, 200);
    // Push deleted its user's expired grant on the way; the janitor deletes everyone's.
    assert_eq!(grants(&pool, dev.user_id).await.len(), 1);
    let other = app.new_user_device("allowance-2").await;
    assert_eq!(
        app.push(&other, one_file("a.md", 0, TWENTY)).await.status,
        200
    );
    let janitor = crate::janitor::janitor_for(&app, other.user_id);
    let later = Utc::now() + TimeDelta::hours(24) + TimeDelta::minutes(6);
    let report = steel_core::janitor::run(&janitor, later, std::time::Duration::from_secs(60))
        .await
        .expect("janitor");
    assert_eq!(report.grants_expired, 2);
    assert!(grants(&pool, dev.user_id).await.is_empty());
    assert!(grants(&pool, other.user_id).await.is_empty());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn two_pushes_at_once_cannot_both_take_the_last_room(pool: PgPool) {
    let app = app(&pool).await;
    let dev = app.new_user_device("allowance").await;
    for round in 0..5 {
        let a = format!("a{round}.md");
        let b = format!("b{round}.md");
        let mine = format!("first of round {round:>5}");
        let theirs = format!("other of round {round:>5}");
        let (x, y) = tokio::join!(
            app.push(&dev, one_file(&a, 0, mine.as_bytes())),
            app.push(&dev, one_file(&b, 0, theirs.as_bytes())),
        );
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 429],
            "round {round}: {:?} {:?}",
            x.body,
            y.body
        );
        sqlx::query("DELETE FROM upload_grants")
            .execute(&pool)
            .await
            .expect("reset");
    }
}
