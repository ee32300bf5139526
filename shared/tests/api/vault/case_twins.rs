//! Two names that differ only by letter case in one request (a Linux or Android vault may
//! hold both): the second is refused per file with `case_conflict`, naming the first, in
//! push, confirm and delete alike, and every other file of the request commits (issue 13,
//! defect 1: the whole confirm used to roll back with a 500).

use serde_json::{Value, json};
use sqlx::PgPool;

use super::{entry, sha256_hex};
use crate::support::{TestApp, TestDevice, oracle};

const BYTE: &[u8] = b"x";

/// `Dup/Readme.md`, its twin `dup/README.md`, and an unrelated `other.md`.
fn twins() -> Value {
    json!({"files": [entry("Dup/Readme.md", 0, BYTE), entry("dup/README.md", 0, BYTE),
                     entry("other.md", 0, b"other")]})
}

/// Pushes `files` and PUTs whatever the server asks for.
async fn push_and_upload(app: &TestApp, dev: &TestDevice, files: &Value, bytes: &[&[u8]]) -> Value {
    let pushed = app.push(dev, files.clone()).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    for up in pushed.body["uploads"].as_array().expect("uploads") {
        if up["upload_url"].is_null() {
            continue;
        }
        let wanted = up["content_hash"].as_str().expect("hash");
        let body = bytes
            .iter()
            .find(|b| sha256_hex(b) == wanted)
            .expect("bytes of the upload");
        assert!(app.upload(up, body).await.status().is_success());
    }
    pushed.body
}

fn refused_twin() -> Value {
    json!([{"path": "dup/README.md", "code": "case_conflict",
            "message": "Dup/Readme.md already exists and differs only by letter case"}])
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn push_hands_out_one_upload_of_two_case_twins(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("twins").await;
    let pushed = push_and_upload(&app, &dev, &twins(), &[BYTE, b"other"]).await;
    let paths: Vec<&str> = pushed["uploads"]
        .as_array()
        .expect("uploads")
        .iter()
        .filter_map(|u| u["path"].as_str())
        .collect();
    assert_eq!(paths, ["Dup/Readme.md", "other.md"]);
    assert_eq!(pushed["rejected"], refused_twin());
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn confirm_refuses_the_second_twin_and_commits_the_rest(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("twins").await;
    push_and_upload(&app, &dev, &twins(), &[BYTE, b"other"]).await;

    let confirmed = app.confirm(&dev, twins()).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let versions: Vec<(&str, i64)> = confirmed.body["confirmed"]
        .as_array()
        .expect("confirmed")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or(""),
                c["version"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(versions, [("Dup/Readme.md", 1), ("other.md", 1)]);
    assert_eq!(confirmed.body["rejected"], refused_twin());
    assert!(oracle::history(&pool, "dup/README.md").await.is_empty());
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn reviving_a_tombstone_and_creating_its_twin_in_one_confirm(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("twins").await;
    app.sync_up(&dev, "note.md", 0, b"first").await;
    let gone = app
        .delete(
            &dev,
            json!({"files": [{"path": "note.md", "base_version": 1}]}),
        )
        .await;
    assert_eq!(gone.body["deleted"][0]["version"], 2);

    // The twin's bytes are stored (under another name), so confirm checks its name, not
    // its upload.
    app.sync_up(&dev, "elsewhere.md", 0, b"twin").await;
    let files = json!({"files": [entry("note.md", 2, b"back"), entry("NOTE.md", 0, b"twin"),
                                 entry("other.md", 0, b"other")]});
    push_and_upload(&app, &dev, &files, &[b"back", b"twin", b"other"]).await;
    let confirmed = app.confirm(&dev, files).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["confirmed"][0]["path"], "note.md");
    assert_eq!(confirmed.body["confirmed"][0]["version"], 3);
    assert_eq!(confirmed.body["confirmed"][1]["path"], "other.md");
    assert_eq!(confirmed.body["rejected"][0]["path"], "NOTE.md");
    assert_eq!(confirmed.body["rejected"][0]["code"], "case_conflict");
    oracle::assert_consistent(&pool, true).await;
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn delete_refuses_the_second_twin_and_deletes_the_rest(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("twins").await;
    app.sync_up(&dev, "Dup/Readme.md", 0, BYTE).await;
    app.sync_up(&dev, "other.md", 0, b"other").await;

    let deleted = app
        .delete(
            &dev,
            json!({"files": [{"path": "Dup/Readme.md", "base_version": 1},
                             {"path": "dup/README.md", "base_version": 1},
                             {"path": "other.md", "base_version": 1}]}),
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let paths: Vec<&str> = deleted.body["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert_eq!(paths, ["Dup/Readme.md", "other.md"]);
    assert_eq!(deleted.body["rejected"], refused_twin());
    oracle::assert_consistent(&pool, true).await;
}
