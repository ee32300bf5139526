//! `GET /vault/deleted`: the deleted notes, most recently deleted first, with what a
//! restore brings back.

use sqlx::PgPool;

use super::delete_one;
use crate::support::TestApp;
use crate::vault::sha256_hex;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleted_notes_come_most_recent_first_with_their_last_version(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("del").await;
    app.sync_up(&dev, "a.md", 0, b"a one").await;
    app.sync_up(&dev, "a.md", 1, b"a two").await;
    app.sync_up(&dev, "b.md", 0, b"b").await;
    app.sync_up(&dev, "kept.md", 0, b"kept").await;
    delete_one(&app, &dev, "a.md", 2).await;
    delete_one(&app, &dev, "b.md", 1).await;

    let answer = app.deleted(&dev, &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let files = answer.body["files"].as_array().expect("files");
    let paths: Vec<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, ["b.md", "a.md"]);
    let a = &files[1];
    assert_eq!(a["version"], 3, "the tombstone");
    assert_eq!(a["last_version"]["version"], 2);
    assert_eq!(a["last_version"]["content_hash"], sha256_hex(b"a two"));
    assert_eq!(a["last_version"]["restorable"], true);
    assert_eq!(a["deleted_by"]["device_id"], dev.device_id.to_string());
    assert!(a["deleted_at"].is_string());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_listing_pages_and_sees_only_the_callers_notes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let anna = app.new_user_device("anna-d").await;
    let bob = app.new_user_device("bob-d").await;
    for i in 0..5 {
        let path = format!("n{i}.md");
        app.sync_up(&anna, &path, 0, path.as_bytes()).await;
        delete_one(&app, &anna, &path, 1).await;
    }
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut q = vec![("limit", "2")];
        if let Some(c) = cursor.as_deref() {
            q.push(("cursor", c));
        }
        let page = app.deleted(&anna, &q).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        for f in page.body["files"].as_array().expect("files") {
            seen.push(f["path"].as_str().expect("path").to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["n4.md", "n3.md", "n2.md", "n1.md", "n0.md"]);
    let bobs = app.deleted(&bob, &[]).await;
    assert_eq!(bobs.body["files"].as_array().map(Vec::len), Some(0));
    let bad = app.deleted(&anna, &[("cursor", "x1")]).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_cursor"));
}
