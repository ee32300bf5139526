//! Paths are canonical: NFC, and one spelling per case-insensitive name.

use sqlx::PgPool;

use super::one_file;
use crate::support::{TestApp, TestDevice};

const NFD: &str = "thoughts/Cafe\u{301}.md";
const NFC: &str = "thoughts/Caf\u{e9}.md";

/// A device that synced the NFD spelling of the café note.
async fn cafe(app: &TestApp) -> TestDevice {
    let dev = app.new_user_device("paths").await;
    app.sync_up(&dev, NFD, 0, b"cafe").await;
    dev
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn responses_carry_the_nfc_path(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = cafe(&app).await;

    let seen = app.state(&dev, &[]).await;
    assert_eq!(
        seen.body["files"][0]["path"], NFC,
        "responses carry the NFC path"
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_nfc_spelling_names_the_same_file(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = cafe(&app).await;

    let pushed = app.push(&dev, one_file(NFC, 1, b"cafe 2")).await;
    assert_eq!(pushed.body["uploads"][0]["path"], NFC);
    assert_eq!(pushed.body["uploads"][0]["base_version"], 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_case_only_twin_of_a_live_file_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = cafe(&app).await;

    // Refused at push, naming the existing path...
    let upper = app.push(&dev, one_file("THOUGHTS/CAFÉ.md", 0, b"x")).await;
    assert_eq!(
        upper.body["rejected"][0]["code"], "case_conflict",
        "{:?}",
        upper.body
    );
    assert!(
        upper.body["rejected"][0]["message"]
            .as_str()
            .expect("msg")
            .contains(NFC)
    );
    // ...and at confirm.
    let upper = app
        .confirm(&dev, one_file("THOUGHTS/CAFÉ.md", 0, b"cafe"))
        .await;
    assert_eq!(
        upper.body["rejected"][0]["code"], "case_conflict",
        "{:?}",
        upper.body
    );
}
