//! The sample events of the account endpoints (`events/`) through their real handlers (and
//! so through the OpenAPI check of `TestApp::send`): with their placeholder token they are
//! refused, with a real one they do what they say.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::http::HeaderValue;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::events::sample_event;
use crate::support::{SignedIn, TestApp, oracle};

/// The sample as stored, with `token` in place of the placeholder when given.
fn sample(name: &str, token: Option<&str>) -> ApiGatewayV2httpRequest {
    let mut e = sample_event(name);
    assert_eq!(
        e.headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some("Bearer REPLACE_WITH_ACCESS_TOKEN"),
        "{name}"
    );
    if let Some(t) = token {
        e.headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).expect("header"),
        );
    }
    e
}

/// An iPhone and a Mac of the Apple user `samples`.
async fn phone_and_mac(app: &TestApp) -> (SignedIn, SignedIn) {
    let phone = app.sign_in("samples", "iPhone").await;
    let mac = app.sign_in("samples", "Mac").await;
    (phone, mac)
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn account_samples_with_their_placeholder_token_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    phone_and_mac(&app).await;

    for name in [
        "account/valid.json",
        "logout/valid.json",
        "logout/all-devices.json",
        "remove-device/valid.json",
        "delete-account/valid.json",
    ] {
        let answer = app.send(sample(name, None)).await;
        assert_eq!((answer.status, answer.code()), (401, "invalid_token"));
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_account_sample_summarises_the_callers_account(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, mac) = phone_and_mac(&app).await;

    let summary = app
        .send(sample("account/valid.json", Some(&mac.device.token)))
        .await;
    assert_eq!(summary.status, 200, "{:?}", summary.body);
    assert_eq!(summary.body["user_id"], mac.body["user_id"]);
    let devices = summary.body["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2);
    let current: Vec<&Value> = devices.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_id"], mac.body["device_id"]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_logout_sample_revokes_this_devices_tokens_only(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (phone, mac) = phone_and_mac(&app).await;

    let out = app
        .send(sample("logout/valid.json", Some(&phone.device.token)))
        .await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    assert_eq!(out.body["revoked_tokens"], 1);
    assert_eq!(out.body["all_devices"], false);
    let replay = app.refresh(&phone.refresh_token).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_revoked")
    );
    let rotated = app.refresh(&mac.refresh_token).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_remove_device_sample_removes_only_a_device_of_the_caller(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (phone, mac) = phone_and_mac(&app).await;
    let mac_token = Some(mac.device.token.as_str());

    // The sample's device is no device of this user: 404. Pointed at the phone: removed.
    let unknown = app
        .send(sample("remove-device/valid.json", mac_token))
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "device_not_found"));
    let phone_id = phone.body["device_id"].as_str().expect("device id");
    let mut remove = sample("remove-device/valid.json", mac_token);
    remove.raw_path = Some(format!("/devices/{phone_id}"));
    remove.request_context.http.path = remove.raw_path.clone();
    remove
        .path_parameters
        .insert("device_id".into(), phone_id.into());
    let removed = app.send(remove).await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    assert_eq!(
        removed.body,
        json!({"device_id": phone_id, "removed": true})
    );
    let gone = app
        .send(sample("account/valid.json", Some(&phone.device.token)))
        .await;
    assert_eq!((gone.status, gone.code()), (401, "invalid_token"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_all_devices_logout_sample_revokes_every_family(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (phone, mac) = phone_and_mac(&app).await;
    app.logout(&phone, None).await;
    let rotated = app.refresh(&mac.refresh_token).await;

    let all = app
        .send(sample("logout/all-devices.json", Some(&mac.device.token)))
        .await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(all.body["all_devices"], true);
    // The Mac's rotated token and its successor; the phone's were revoked already.
    assert_eq!(all.body["revoked_tokens"], 2);
    let after = app
        .refresh(rotated.body["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(after.status, 401);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_delete_account_samples_need_confirm_then_delete_everything(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, mac) = phone_and_mac(&app).await;
    let mac_token = Some(mac.device.token.as_str());

    let missing = app
        .send(sample("delete-account/missing-confirm.json", mac_token))
        .await;
    assert_eq!((missing.status, missing.code()), (400, "missing_field"));
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("confirm"))
    );
    let deleted = app
        .send(sample("delete-account/valid.json", mac_token))
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(
        deleted.body,
        json!({"deleted": true, "objects_deleted": 0, "purge_complete": true})
    );
    assert!(
        oracle::rows_of(&pool, mac.device.user_id)
            .await
            .iter()
            .all(|(_, n)| *n == 0)
    );
    let afterwards = app.send(sample("account/valid.json", mac_token)).await;
    assert_eq!(
        (afterwards.status, afterwards.code()),
        (401, "invalid_token")
    );
}
