//! `POST /devices/register`: a device is created for an unbound token and updated through
//! a bound one; push tokens move with a reinstalled app.

use serde_json::json;
use sqlx::PgPool;

use crate::support::idp::apple_login;
use crate::support::{Anonymous, Answer, TestApp, oracle};

/// The access token of a login without a device.
async fn unbound(app: &TestApp) -> String {
    let login = app.login(apple_login("registrar")).await;
    login.body["access_token"].as_str().expect("at").to_owned()
}

/// Registers Anna's iPhone (push token `aaa111`) with an unbound token.
async fn register_iphone(app: &TestApp, unbound: &str) -> Answer {
    app.register(
        unbound,
        json!({"device_name": "Anna's iPhone", "platform": "ios", "push_token": "aaa111"}),
    )
    .await
}

/// The access token bound to the device a register answer created.
fn bound(created: &Answer) -> String {
    created.body["access_token"]
        .as_str()
        .expect("bound token")
        .to_owned()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_unbound_token_creates_the_device_and_gets_a_pair_bound_to_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let unbound = unbound(&app).await;

    let created = register_iphone(&app, &unbound).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let device_id = created.body["device_id"].as_str().expect("device");
    assert_eq!(
        created.body["device"]["push_environment"], "production",
        "default environment"
    );
    let caller = app
        .state
        .tokens
        .verify_access(&bound(&created))
        .expect("valid");
    assert_eq!(
        caller.device_id.map(|d| d.to_string()).as_deref(),
        Some(device_id)
    );
    let refreshed = app
        .refresh(created.body["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(refreshed.body["device_id"], device_id);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_bound_token_updates_its_device_idempotently(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let created = register_iphone(&app, &unbound(&app).await).await;
    let device_id = created.body["device_id"].as_str().expect("device");
    let bound = bound(&created);

    let body = json!({"device_name": "Anna's iPhone 17", "platform": "ios", "push_token": "bbb222", "push_environment": "sandbox"});
    let updated = app.register(&bound, body.clone()).await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.body["device"]["device_id"], device_id);
    assert_eq!(updated.body["device"]["device_name"], "Anna's iPhone 17");
    assert_eq!(updated.body["device"]["push_environment"], "sandbox");
    assert!(updated.body.get("access_token").is_none());
    let again = app.register(&bound, body).await;
    assert_eq!(again.body["device"]["device_id"], device_id);
    assert_eq!(oracle::count(&pool, "devices").await, 1);
}

/// The app was reinstalled: a new device registers with the push token an old one had.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_token_moves_to_the_device_that_registers_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let unbound = unbound(&app).await;
    let bound = bound(&register_iphone(&app, &unbound).await);
    app.register(
        &bound,
        json!({"device_name": "Anna's iPhone 17", "platform": "ios", "push_token": "bbb222"}),
    )
    .await;

    let second = app
        .register(
            &unbound,
            json!({"device_name": "Anna's iPhone (new)", "platform": "ios", "push_token": "bbb222"}),
        )
        .await;
    assert_eq!(second.status, 201);
    let tokens: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT device_name, push_token FROM devices ORDER BY created_at")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(
        tokens,
        vec![
            ("Anna's iPhone 17".to_owned(), None),
            ("Anna's iPhone (new)".to_owned(), Some("bbb222".to_owned()))
        ]
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn bad_device_descriptions_are_a_400(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let bound = bound(&register_iphone(&app, &unbound(&app).await).await);

    for (body, code) in [
        (
            json!({"device_name": "", "platform": "ios"}),
            "invalid_device_name",
        ),
        (
            json!({"device_name": "x", "platform": "ios", "push_token": "has space"}),
            "invalid_push_token",
        ),
        (
            json!({"device_name": "x", "platform": "ios", "push_environment": "staging"}),
            "invalid_value",
        ),
        (json!({"platform": "ios"}), "missing_field"),
    ] {
        let answer = app.register(&bound, body).await;
        assert_eq!((answer.status, answer.code()), (400, code));
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn register_needs_a_token(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let unauthenticated = app
        .register(&Anonymous, json!({"device_name": "x", "platform": "ios"}))
        .await;
    assert_eq!(
        (unauthenticated.status, unauthenticated.code()),
        (401, "missing_token")
    );
}
