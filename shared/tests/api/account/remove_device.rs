//! `DELETE /devices/{device_id}`: the device is signed out at once, its history stays.

use sqlx::PgPool;

use super::sync_note;
use crate::support::{SignedIn, TestApp, oracle};

/// An iPhone that wrote `by-phone.md` and a Mac, of one user.
async fn phone_and_mac(app: &TestApp) -> (SignedIn, SignedIn) {
    let phone = app.sign_in("remover", "iPhone").await;
    let mac = app.sign_in("remover", "Mac").await;
    sync_note(app, &phone.device, "by-phone.md", b"written on the phone").await;
    (phone, mac)
}

fn id_of(s: &SignedIn) -> String {
    s.body["device_id"].as_str().expect("id").to_owned()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn another_users_device_is_a_404_like_an_unknown_one(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, mac) = phone_and_mac(&app).await;
    let stranger = app.sign_in("stranger", "Pixel").await;

    let foreign = app.remove_device(&mac, &id_of(&stranger)).await;
    let unknown = app
        .remove_device(&mac, &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!((foreign.status, foreign.code()), (404, "device_not_found"));
    assert_eq!(foreign.body, unknown.body);
    let garbage = app.remove_device(&mac, "not-a-uuid").await;
    assert_eq!(garbage.status, 404);
    // Nothing changed for the stranger.
    assert_eq!(app.refresh(&stranger.refresh_token).await.status, 200);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_removed_device_is_signed_out_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (phone, mac) = phone_and_mac(&app).await;

    let removed = app.remove_device(&mac, &id_of(&phone)).await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    // Its access token stops now, not in an hour; its refresh token too; its push token is gone.
    let after = app.state(&phone, &[]).await;
    assert_eq!((after.status, after.code()), (401, "invalid_token"));
    assert_eq!(app.refresh(&phone.refresh_token).await.status, 401);
    assert_eq!(
        oracle::push_token(&pool, phone.device.device_id).await,
        None
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_removed_devices_history_stays_but_it_leaves_the_list(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (phone, mac) = phone_and_mac(&app).await;
    app.remove_device(&mac, &id_of(&phone)).await;

    let seen = app.state(&mac, &[]).await;
    assert_eq!(seen.body["files"][0]["updated_by"], phone.body["device_id"]);
    let listed = app.account(&mac).await;
    assert_eq!(listed.body["devices"].as_array().map(Vec::len), Some(1));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn removing_a_device_again_is_a_404(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (phone, mac) = phone_and_mac(&app).await;
    app.remove_device(&mac, &id_of(&phone)).await;

    let again = app.remove_device(&mac, &id_of(&phone)).await;
    assert_eq!(again.status, 404);
}
