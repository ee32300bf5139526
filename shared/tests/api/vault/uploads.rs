//! Only the promised bytes, uploaded through a valid presigned URL, ever commit.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::ContentHash;

use super::{one_file, sha256_hex};
use crate::support::{TestApp, TestDevice, oracle};

const PROMISED: &[u8] = b"the real note";

/// A device that pushed `a.md` (PROMISED) and holds the upload entry of the answer.
async fn pushed(app: &TestApp) -> (TestDevice, Value, Value) {
    let dev = app.new_user_device("wrong-bytes").await;
    let files = one_file("a.md", 0, PROMISED);
    let answer = app.push(&dev, files.clone()).await;
    (dev, files, answer.body["uploads"][0].clone())
}

/// Nothing of `a.md` was committed or announced.
async fn nothing_committed(app: &TestApp, pool: &PgPool) {
    assert!(
        oracle::history(pool, "a.md").await.is_empty(),
        "nothing committed"
    );
    assert!(app.drain_notices().await.is_empty(), "nothing announced");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn confirm_before_the_upload_reports_it_missing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (dev, files, _) = pushed(&app).await;

    let early = app.confirm(&dev, files).await;
    assert_eq!(early.status, 200);
    assert_eq!(early.body["missing"][0]["code"], "not_uploaded");
    assert_eq!(early.body["confirmed"], json!([]));
    nothing_committed(&app, &pool).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_store_refuses_other_bytes_of_the_signed_length(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (dev, files, up) = pushed(&app).await;

    // The checksum is signed.
    let put = app.upload(&up, b"a fake note!!").await;
    assert!(
        put.status().is_client_error(),
        "wrong bytes accepted: {}",
        put.status()
    );
    // Even a store that kept them would not get them committed.
    let after_bad = app.confirm(&dev, files).await;
    assert_eq!(
        after_bad.body["confirmed"],
        json!([]),
        "{:?}",
        after_bad.body
    );
    assert_eq!(
        after_bad.body["missing"].as_array().expect("missing").len(),
        1
    );
    nothing_committed(&app, &pool).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_store_refuses_another_length_than_signed(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, _, up) = pushed(&app).await;

    let put = app.upload(&up, b"short").await;
    assert!(put.status().is_client_error(), "{}", put.status());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_tampered_checksum_header_does_not_match_the_signature(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, _, up) = pushed(&app).await;

    let mut tampered = up.clone();
    tampered["headers"]["x-amz-checksum-sha256"] = json!(ContentHash::of(b"x").to_base64());
    assert_eq!(app.upload(&tampered, b"x").await.status(), 403);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_expired_upload_url_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (dev, _, _) = pushed(&app).await;

    let short = app
        .storage()
        .presign_upload(
            dev.user_id,
            &ContentHash::of(PROMISED),
            PROMISED.len() as i64,
            Duration::from_secs(1),
        )
        .await
        .expect("presign");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let short_entry = json!({"upload_url": short.url, "headers": short.headers});
    assert_eq!(app.upload(&short_entry, PROMISED).await.status(), 403);
    nothing_committed(&app, &pool).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn after_refused_uploads_the_right_bytes_still_commit(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (dev, files, up) = pushed(&app).await;
    app.upload(&up, b"a fake note!!").await;
    app.upload(&up, b"short").await;
    app.confirm(&dev, files.clone()).await;
    nothing_committed(&app, &pool).await;

    // The first URL is still valid.
    let put = app.upload(&up, PROMISED).await;
    assert!(put.status().is_success(), "{}", put.status());
    let ok = app.confirm(&dev, files).await;
    assert_eq!(ok.body["confirmed"][0]["version"], 1, "{:?}", ok.body);
}

/// A file that claims known bytes with another size is not confirmed on the strength of the
/// verified blob: the hash names the bytes, and their size is part of them.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_known_hash_with_a_wrong_size_is_not_trusted(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("liar").await;
    let bytes = b"eleven byte";
    app.sync_up(&dev, "real.md", 0, bytes).await;
    let lie = json!({"files": [{"path": "lie.md", "base_version": 0,
                                "content_hash": sha256_hex(bytes), "size_bytes": 999}]});
    let pushed = app.push(&dev, lie.clone()).await;
    assert!(
        pushed.body["uploads"][0]["upload_url"].is_string(),
        "{:?}",
        pushed.body
    );
    let confirmed = app.confirm(&dev, lie).await;
    assert_eq!(confirmed.body["confirmed"], json!([]));
    assert_eq!(
        confirmed.body["missing"][0]["code"], "content_mismatch",
        "{:?}",
        confirmed.body
    );
    assert!(oracle::history(&pool, "lie.md").await.is_empty());
}

/// Confirms `a.md` (13 bytes, the real size) and `b.md` (the same hash, 20 bytes) in
/// `order`; the answer.
async fn confirm_two_sizes(app: &TestApp, dev: &TestDevice, order: [&str; 2]) -> Value {
    const SHARED: &[u8] = b"shared bytes\n";
    let hash = sha256_hex(SHARED);
    let size = |p: &str| if p == "a.md" { SHARED.len() } else { 20 };
    let files: Vec<Value> = order
        .iter()
        .map(|p| json!({"path": p, "base_version": 0, "content_hash": hash, "size_bytes": size(p)}))
        .collect();
    let pushed = app.push(dev, json!({"files": [files[0].clone()]})).await;
    let up = &pushed.body["uploads"][0];
    if up["path"] == "a.md" {
        assert!(app.upload(up, SHARED).await.status().is_success());
    } else {
        let pushed = app
            .push(
                dev,
                json!({"files": [{"path": "a.md", "base_version": 0,
                                          "content_hash": hash, "size_bytes": 13}]}),
            )
            .await;
        let up = &pushed.body["uploads"][0];
        assert!(app.upload(up, SHARED).await.status().is_success());
    }
    app.confirm(dev, json!({ "files": files })).await.body
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn one_hash_with_two_sizes_confirms_the_true_one_first(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("two-sizes").await;
    let answer = confirm_two_sizes(&app, &dev, ["a.md", "b.md"]).await;
    assert_eq!(answer["confirmed"][0]["path"], "a.md", "{answer}");
    assert_eq!(answer["confirmed"].as_array().map(Vec::len), Some(1));
    assert_eq!(answer["missing"][0]["path"], "b.md");
    assert_eq!(answer["missing"][0]["code"], "content_mismatch");
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn one_hash_with_two_sizes_confirms_the_true_one_second(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("two-sizes").await;
    let answer = confirm_two_sizes(&app, &dev, ["b.md", "a.md"]).await;
    assert_eq!(answer["confirmed"][0]["path"], "a.md", "{answer}");
    assert_eq!(answer["confirmed"].as_array().map(Vec::len), Some(1));
    assert_eq!(answer["missing"][0]["path"], "b.md");
    assert_eq!(answer["missing"][0]["code"], "content_mismatch");
    oracle::assert_consistent(&pool, true).await;
}
