//! `GET /vault/history`: a note's versions, newest first, paged, with their devices.

use sqlx::PgPool;

use super::delete_one;
use crate::support::TestApp;
use crate::vault::sha256_hex;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn history_lists_every_version_newest_first_with_its_device(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("hist").await;
    let phone = app.another_device(mac.user_id, "Anna's iPhone").await;
    app.sync_up(&mac, "n.md", 0, b"one").await;
    app.sync_up(&phone, "n.md", 1, b"two").await;
    delete_one(&app, &mac, "n.md", 2).await;

    let answer = app.history(&mac, &[("path", "n.md")]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let versions = answer.body["versions"].as_array().expect("versions");
    let summary: Vec<(i64, bool, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap_or(0),
                v["is_deleted"].as_bool().unwrap_or(false),
                v["device"]["device_name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, true, "Mac"),
            (2, false, "Anna's iPhone"),
            (1, false, "Mac")
        ]
    );
    assert_eq!(versions[1]["content_hash"], sha256_hex(b"two"));
    assert_eq!(versions[1]["size_bytes"], 3);
    assert_eq!(
        versions[1]["device"]["device_id"],
        phone.device_id.to_string()
    );
    assert!(answer.body["next_cursor"].is_null());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn history_pages_with_its_cursor(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("hist").await;
    for v in 0..5 {
        app.sync_up(&dev, "p.md", v, format!("edit {v}").as_bytes())
            .await;
    }
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut q = vec![("path", "p.md"), ("limit", "2")];
        if let Some(c) = cursor.as_deref() {
            q.push(("cursor", c));
        }
        let page = app.history(&dev, &q).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        for v in page.body["versions"].as_array().expect("versions") {
            seen.push(v["version"].as_i64().expect("version"));
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_removed_device_is_named_so(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("hist").await;
    let phone = app.another_device(mac.user_id, "old phone").await;
    app.sync_up(&phone, "r.md", 0, b"from the phone").await;
    let removed = app.remove_device(&mac, &phone.device_id.to_string()).await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);

    let answer = app.history(&mac, &[("path", "r.md")]).await;
    let device = &answer.body["versions"][0]["device"];
    assert_eq!(device["device_id"], phone.device_id.to_string());
    assert_eq!(device["device_name"], "removed device");
    assert_eq!(device["removed"], true);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn another_users_path_is_a_404_like_one_that_never_existed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let anna = app.new_user_device("anna-h").await;
    let bob = app.new_user_device("bob-h").await;
    app.sync_up(&anna, "secret.md", 0, b"anna's").await;

    let theirs = app.history(&bob, &[("path", "secret.md")]).await;
    let never = app.history(&bob, &[("path", "never.md")]).await;
    assert_eq!((theirs.status, theirs.code()), (404, "not_found"));
    assert_eq!((never.status, never.code()), (404, "not_found"));
    assert_eq!(
        theirs.body["error"]["message"]
            .as_str()
            .map(|m| m.replace("secret", "never")),
        never.body["error"]["message"].as_str().map(str::to_owned)
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn bad_parameters_are_400s(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("hist").await;
    app.sync_up(&dev, "n.md", 0, b"one").await;
    for (query, code) in [
        (vec![], "invalid_request"),
        (vec![("path", "../n.md")], "invalid_path"),
        (vec![("path", "n.md"), ("limit", "0")], "invalid_limit"),
        (vec![("path", "n.md"), ("limit", "1001")], "invalid_limit"),
        (vec![("path", "n.md"), ("cursor", "c3")], "invalid_cursor"),
        (vec![("path", "n.md"), ("cursor", "v")], "invalid_cursor"),
    ] {
        let answer = app.history(&dev, &query).await;
        assert_eq!((answer.status, answer.code()), (400, code), "{query:?}");
    }
}
