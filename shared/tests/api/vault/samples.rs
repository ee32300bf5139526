//! The samples in `events/{state,push,confirm,pull,delete}` through the real handlers: with
//! a real token they do what they say, with their placeholder token they are refused.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::json;
use sqlx::PgPool;

use crate::support::events::sample_event;
use crate::support::{Answer, TestApp};

/// Sends the sample `name` with the bearer token of a new user's device.
async fn send_as_new_user(app: &TestApp, name: &str) -> Answer {
    let dev = app.new_user_device("samples").await;
    let mut e: ApiGatewayV2httpRequest = sample_event(name);
    e.headers.insert(
        "authorization",
        format!("Bearer {}", dev.token).parse().expect("hdr"),
    );
    app.send(e).await
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_push_samples_ask_for_uploads(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let answer = send_as_new_user(&app, "push/valid.json").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["uploads"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        answer.body["conflicts"].as_array().map(Vec::len),
        Some(1),
        "base 3 of a new file"
    );
    let answer = send_as_new_user(&app, "push/base64-body.json").await;
    assert_eq!(answer.body["uploads"][0]["path"], "questions/Why.md");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_confirm_sample_is_missing_its_upload(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let answer = send_as_new_user(&app, "confirm/valid.json").await;
    assert_eq!(
        answer.body["missing"][0]["code"], "not_uploaded",
        "{:?}",
        answer.body
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_pull_samples_find_nothing_in_a_new_vault(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let answer = send_as_new_user(&app, "pull/valid.json").await;
    assert_eq!(answer.body["not_found"].as_array().map(Vec::len), Some(2));
    let answer = send_as_new_user(&app, "pull/versions.json").await;
    assert_eq!(answer.body["not_found"].as_array().map(Vec::len), Some(1));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_delete_sample_finds_nothing_in_a_new_vault(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let answer = send_as_new_user(&app, "delete/valid.json").await;
    assert_eq!(answer.body["not_found"], json!(["thoughts/Idea.md"]));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_state_samples_read_from_the_start_or_a_cursor(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let answer = send_as_new_user(&app, "state/from-start.json").await;
    assert_eq!(answer.status, 200);
    let answer = send_as_new_user(&app, "state/from-cursor.json").await;
    assert_eq!(
        (answer.status, answer.code()),
        (410, "resync_required"),
        "c42 is ahead of this new user"
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn vault_samples_with_their_placeholder_token_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    for name in ["push/valid.json", "state/from-start.json"] {
        let answer = app.send(sample_event(name)).await;
        assert_eq!(answer.status, 401, "{name} with its placeholder token");
    }
}
