//! confirm → moto SQS → the message, wrapped in an SQS event → notifier → the APNs stand-in.

use serde_json::json;
use sqlx::PgPool;
use steel_core::notifier;

use super::iphone;
use crate::support::TestApp;
use crate::support::apns::Apns;
use crate::support::events::sqs_event;

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_confirm_reaches_the_other_device(pool: PgPool) {
    let apns = Apns::start().await;
    let app = TestApp::spawn(pool.clone()).await;
    let mac = app.new_user_device("e2e").await;
    sqlx::query("UPDATE devices SET push_token = 'mac-token' WHERE id = $1")
        .bind(mac.device_id)
        .execute(&pool)
        .await
        .expect("token");
    iphone(&pool, mac.user_id, "iPhone", "phone-token").await;

    app.sync_file(&mac, "inbox.md", 0, b"pushed from the Mac")
        .await;

    let records = app.notice_records().await;
    assert_eq!(records.len(), 1);
    let response = notifier::handle_batch(&pool, &apns.pushers(), sqs_event(records)).await;
    assert!(response.batch_item_failures.is_empty());
    let pushes = apns.pushes().await;
    assert_eq!(
        pushes.len(),
        1,
        "the phone only, not the Mac that made the change"
    );
    assert_eq!(pushes[0].path, "/prod/3/device/phone-token");
    let head = steel_core::db::files::current_cursor(&app.db, mac.user_id)
        .await
        .expect("cursor")
        .expect("user");
    assert_eq!(pushes[0].payload["cursor"], head.to_string());
    assert_eq!(pushes[0].payload["paths"], json!(["inbox.md"]));
}
