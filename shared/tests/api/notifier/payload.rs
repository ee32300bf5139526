//! The push payload: the cursor always, the paths while they fit in APNs' 4 KB.

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{Cursor, VaultPath};
use steel_core::notifier;

use super::{iphone, notice};
use crate::support::apns::Apns;
use crate::support::events::sqs_event;
use crate::support::seed;

#[test]
fn a_payload_carries_the_cursor_and_the_paths() {
    let short: Vec<VaultPath> = vec![VaultPath::parse("a.md").expect("p")];
    let p: Value =
        serde_json::from_str(&notifier::payload(Cursor::from_seq(12), Some(&short))).expect("json");
    assert_eq!(p["paths"], json!(["a.md"]));
}

#[test]
fn payloads_over_4kb_drop_the_paths() {
    let long: Vec<VaultPath> = (0..100)
        .map(|i| {
            VaultPath::parse(&format!("notes/a-rather-long-folder-name/{i:03}-note.md")).expect("p")
        })
        .collect();
    let text = notifier::payload(Cursor::from_seq(12), Some(&long));
    assert!(text.len() <= notifier::MAX_PAYLOAD_BYTES);
    let p: Value = serde_json::from_str(&text).expect("json");
    assert!(p.get("paths").is_none());
    assert_eq!(p["cursor"], "c12");
    assert_eq!(p["aps"]["content-available"], 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn oversized_path_lists_still_push_the_cursor(pool: PgPool) {
    let apns = Apns::start().await;
    let u = seed::user(&pool, "many-paths").await;
    iphone(&pool, u, "A", "tok").await;
    let paths: Vec<String> = (0..200)
        .map(|i| format!("thoughts/{i:04}-a-long-note-name.md"))
        .collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    notifier::handle_batch(
        &pool,
        &apns.pushers(),
        sqs_event(vec![notice("m1", u, None, 42, &refs)]),
    )
    .await;
    let pushes = apns.pushes().await;
    assert_eq!(
        pushes[0].payload,
        json!({"aps": {"content-available": 1}, "cursor": "c42"})
    );
}
