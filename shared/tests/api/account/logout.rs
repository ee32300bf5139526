//! `POST /auth/logout`: this device's token family, or every device's.

use serde_json::json;
use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn logout_revokes_this_devices_family_only(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let phone = app.sign_in("logout", "iPhone").await;
    let mac = app.sign_in("logout", "Mac").await;

    let out = app.logout(&phone, None).await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    assert_eq!(out.body["revoked_tokens"], 1);
    // Replay after logout: refused. The other device is untouched.
    let replay = app.refresh(&phone.refresh_token).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_revoked")
    );
    let still = app.refresh(&mac.refresh_token).await;
    assert_eq!(still.status, 200);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn logout_of_all_devices_revokes_every_family_of_the_user(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.sign_in("logout", "iPhone").await;
    let mac = app.sign_in("logout", "Mac").await;
    let still = app.refresh(&mac.refresh_token).await;

    let all = app.logout(&mac, Some(json!({"all_devices": true}))).await;
    assert_eq!(all.body["all_devices"], true);
    let newest = app
        .refresh(still.body["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(newest.status, 401, "every family of the user is revoked");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn logout_with_an_unknown_refresh_token_is_a_400(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.sign_in("logout", "Mac").await;

    let bad = app
        .logout(&mac, Some(json!({"refresh_token": "nope"})))
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_refresh_token"));
}
