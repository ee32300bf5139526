//! `GET /vault/keys` and `PUT /vault/keys`: the key slots of an encrypted account behind an
//! ETag. A write needs `If-Match` (428 without), a stale one is 412 and changes nothing (a
//! retry of the write that made the current state answers 200), of
//! two writers with one ETag exactly one wins, the set is never empty, every slot's header
//! is checked, no account sees another's, and deleting the account deletes them.

use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_crypto::slot::{KdfParams, KeySlot, SlotKind};
use steel_crypto::{SecretKey, VaultKeys};

use crate::support::TestApp;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A well-formed slot (random-looking bytes where the secrets would be) of `kind`, id
/// `[seed; 16]`, wrapping generation `generation`.
fn slot(kind: SlotKind, seed: u8, generation: u32) -> KeySlot {
    KeySlot {
        id: [seed; 16],
        kind,
        generation,
        kdf: (kind == SlotKind::Passphrase).then_some(KdfParams::DEFAULT),
        salt: [seed ^ 0x55; 16],
        nonce: [seed ^ 0xaa; 24],
        wrapped_vk: [seed.wrapping_add(1); 48],
    }
}

fn entry(s: &KeySlot) -> Value {
    let kind = match s.kind {
        SlotKind::Passphrase => "passphrase",
        SlotKind::RecoveryCode => "recovery_code",
    };
    json!({"id": hex::encode(s.id), "kind": kind, "slot": b64(&s.to_bytes())})
}

fn body(slots: &[KeySlot], keyring: Option<&[u8]>) -> Value {
    json!({"slots": slots.iter().map(entry).collect::<Vec<_>>(), "keyring": keyring.map(b64)})
}

/// The sealed keyring of generation 1 as steel-crypto makes it.
fn keyring_of_generation_1() -> Vec<u8> {
    let vk0 = SecretKey::from_bytes([7; 32]);
    let vk1 = SecretKey::from_bytes([8; 32]);
    VaultKeys::generation0(&vk0).rotate_with(&vk1, &[9; 24]).1
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.db)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_plaintext_account_has_no_slots_and_etag_v0(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("keys-plain").await;
    let got = app.keys(&mac).await;
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(
        got.body,
        json!({"encrypted": false, "migrating": false, "slots": [], "keyring": null, "etag": "\"v0\""})
    );
    assert_eq!(got.etag.as_deref(), Some("\"v0\""));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn put_needs_if_match_then_replaces_and_a_stale_etag_changes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("keys-put").await;
    let first = [
        slot(SlotKind::Passphrase, 1, 0),
        slot(SlotKind::RecoveryCode, 2, 0),
    ];

    // No If-Match, or `*`: 428, and the account stays plaintext.
    for tag in [None, Some("*")] {
        let refused = app.put_keys(&mac, tag, body(&first, None)).await;
        assert_eq!(refused.status, 428, "{tag:?}: {:?}", refused.body);
        assert_eq!(refused.code(), "precondition_required");
    }
    assert_eq!(app.keys(&mac).await.body["encrypted"], false);

    // The first PUT, with the plaintext state's ETag.
    let put = app.put_keys(&mac, Some("\"v0\""), body(&first, None)).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.etag.as_deref(), Some("\"v1\""));
    assert_eq!(put.body["encrypted"], true);
    let got = app.keys(&mac).await;
    assert_eq!(got.body, put.body);
    assert_eq!(got.etag.as_deref(), Some("\"v1\""));
    assert_eq!(got.body["slots"][0], entry(&first[0]));
    assert_eq!(got.body["slots"][1], entry(&first[1]));
    assert_eq!(got.body["keyring"], Value::Null);

    // A change of passphrase: one slot rewritten, with the current ETag.
    let second = [
        slot(SlotKind::Passphrase, 3, 0),
        slot(SlotKind::RecoveryCode, 2, 0),
    ];
    let put = app
        .put_keys(&mac, Some("\"v1\""), body(&second, None))
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["etag"], "\"v2\"");
    let after = app.keys(&mac).await;
    assert_eq!(after.body["slots"][0], entry(&second[0]));

    // The old ETag (and values no server issued) are 412; nothing changed.
    for stale in ["\"v1\"", "\"v0\"", "\"v3\"", "W/\"v2\"", "v2", "\"v02\""] {
        let refused = app.put_keys(&mac, Some(stale), body(&first, None)).await;
        assert_eq!(refused.status, 412, "{stale}: {:?}", refused.body);
        assert_eq!(refused.code(), "precondition_failed");
    }
    assert_eq!(app.keys(&mac).await.body, after.body);
    // The change itself sent again (its answer lost) finds its own result: 200 with the
    // ETag it made, nothing written twice.
    let again = app
        .put_keys(&mac, Some("\"v1\""), body(&second, None))
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["etag"], "\"v2\"");
    assert_eq!(app.keys(&mac).await.body, after.body);

    // Rotation: new slots of generation 1 with the keyring of generation 1.
    let keyring = keyring_of_generation_1();
    let rotated = [slot(SlotKind::Passphrase, 4, 1)];
    let put = app
        .put_keys(&mac, Some("\"v2\""), body(&rotated, Some(&keyring)))
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let got = app.keys(&mac).await;
    assert_eq!(got.body["keyring"], b64(&keyring));
    assert_eq!(got.body["slots"].as_array().map(Vec::len), Some(1));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn two_puts_with_one_etag_exactly_one_wins(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("keys-race").await;
    let phone = app.another_device(mac.user_id, "Phone").await;
    for (round, tag) in ["\"v0\"", "\"v1\""].into_iter().enumerate() {
        let seed = 10 * (round as u8 + 1);
        let a = [slot(SlotKind::Passphrase, seed, 0)];
        let b = [slot(SlotKind::Passphrase, seed + 1, 0)];
        let (x, y) = tokio::join!(
            app.put_keys(&mac, Some(tag), body(&a, None)),
            app.put_keys(&phone, Some(tag), body(&b, None)),
        );
        let mut statuses = [x.status, y.status];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "{tag}: {:?} {:?}", x.body, y.body);
        let winner = if x.status == 200 { &x } else { &y };
        let got = app.keys(&mac).await;
        assert_eq!(
            got.body, winner.body,
            "{tag}: the winner's slots are stored"
        );
        assert_eq!(got.body["slots"].as_array().map(Vec::len), Some(1));
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn bad_slot_sets_are_refused_whole(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mac = app.new_user_device("keys-bad").await;
    let good = slot(SlotKind::Passphrase, 1, 0);
    let recovery = slot(SlotKind::RecoveryCode, 2, 0);
    let mut wrong_magic = good.to_bytes();
    wrong_magic[0] = b'X';
    let with = |patch: &dyn Fn(&mut Value)| {
        let mut v = entry(&good);
        patch(&mut v);
        json!({"slots": [v], "keyring": null})
    };
    let too_many: Vec<KeySlot> = (0..17).map(|i| slot(SlotKind::Passphrase, i, 0)).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "empty",
            json!({"slots": [], "keyring": null}),
            "no_key_slots",
        ),
        ("17 slots", body(&too_many, None), "too_many_key_slots"),
        (
            "unknown kind",
            with(&|v| v["kind"] = json!("fingerprint")),
            "invalid_value",
        ),
        (
            "kind not the slot's",
            with(&|v| v["kind"] = json!("recovery_code")),
            "invalid_key_slot",
        ),
        (
            "not base64",
            with(&|v| v["slot"] = json!("!!!!")),
            "invalid_key_slot",
        ),
        (
            "oversize",
            with(&|v| v["slot"] = json!(b64(&[0u8; 127]))),
            "invalid_key_slot",
        ),
        (
            "huge",
            with(&|v| v["slot"] = json!("A".repeat(100_000))),
            "invalid_key_slot",
        ),
        (
            "short",
            with(&|v| v["slot"] = json!(b64(&good.to_bytes()[..125]))),
            "invalid_key_slot",
        ),
        (
            "wrong magic",
            with(&|v| v["slot"] = json!(b64(&wrong_magic))),
            "invalid_key_slot",
        ),
        (
            "id not the slot's",
            with(&|v| v["id"] = json!("00".repeat(16))),
            "invalid_key_slot",
        ),
        (
            "uppercase id",
            with(&|v| v["id"] = json!("0A".repeat(16))),
            "invalid_key_slot",
        ),
        (
            "id too long",
            with(&|v| v["id"] = json!("01".repeat(17))),
            "invalid_key_slot",
        ),
        (
            "no keyring field",
            json!({"slots": [entry(&good)]}),
            "missing_field",
        ),
        (
            "same id twice",
            json!({"slots": [entry(&good), entry(&good)], "keyring": null}),
            "duplicate_key_slot",
        ),
        (
            "two generations",
            body(&[good.clone(), slot(SlotKind::RecoveryCode, 3, 1)], None),
            "key_generation_mismatch",
        ),
        (
            "generation 1 without its keyring",
            body(&[slot(SlotKind::Passphrase, 4, 1)], None),
            "key_generation_mismatch",
        ),
        (
            "a keyring in generation 0",
            body(
                std::slice::from_ref(&good),
                Some(&keyring_of_generation_1()),
            ),
            "key_generation_mismatch",
        ),
        (
            "a keyring cut short",
            body(
                &[slot(SlotKind::Passphrase, 4, 1)],
                Some(&keyring_of_generation_1()[..180]),
            ),
            "invalid_keyring",
        ),
        (
            "a keyring not base64",
            json!({"slots": [entry(&slot(SlotKind::Passphrase, 4, 1))], "keyring": "%%"}),
            "invalid_keyring",
        ),
    ];
    for (what, request, code) in cases {
        let refused = app.put_keys(&mac, Some("\"v0\""), request).await;
        assert_eq!(refused.status, 400, "{what}: {:?}", refused.body);
        assert_eq!(refused.code(), code, "{what}: {:?}", refused.body);
    }
    let got = app.keys(&mac).await;
    assert_eq!(got.body["encrypted"], false, "nothing was stored");

    // Once encrypted, an empty set is still refused: the last slot cannot be removed.
    let put = app
        .put_keys(&mac, Some("\"v0\""), body(&[good.clone(), recovery], None))
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let empty = app
        .put_keys(&mac, Some("\"v1\""), json!({"slots": [], "keyring": null}))
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(empty.code(), "no_key_slots");
    let got = app.keys(&mac).await;
    assert_eq!(got.body["slots"].as_array().map(Vec::len), Some(2));
    assert_eq!(got.etag.as_deref(), Some("\"v1\""));
    // And the database itself refuses an encrypted account without slots.
    let mut tx = app.db.begin().await.expect("tx");
    sqlx::query("DELETE FROM key_slots WHERE user_id = $1")
        .bind(mac.user_id)
        .execute(&mut *tx)
        .await
        .expect("delete");
    assert!(tx.commit().await.is_err(), "the deferred check refuses");
    assert_eq!(rows(&app, "key_slots").await, 2);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn another_account_never_sees_the_slots_and_deleting_the_account_removes_them(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ada = app.new_user_device("keys-ada").await;
    let bob = app.new_user_device("keys-bob").await;
    let ada_slots = [slot(SlotKind::Passphrase, 1, 0)];
    let put = app
        .put_keys(&ada, Some("\"v0\""), body(&ada_slots, None))
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);

    let seen = app.keys(&bob).await;
    assert_eq!(
        seen.body,
        json!({"encrypted": false, "migrating": false, "slots": [], "keyring": null, "etag": "\"v0\""})
    );
    // Bob's own first PUT (with the same ETag value) is his alone.
    let bob_slots = [slot(SlotKind::RecoveryCode, 2, 0)];
    let put = app
        .put_keys(&bob, Some("\"v0\""), body(&bob_slots, None))
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(app.keys(&ada).await.body["slots"][0], entry(&ada_slots[0]));
    assert_eq!(app.keys(&bob).await.body["slots"][0], entry(&bob_slots[0]));

    let deleted = app.delete_account(&ada, json!({"confirm": "DELETE"})).await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let left: Vec<(steel_core::domain::UserId,)> = sqlx::query_as("SELECT user_id FROM key_slots")
        .fetch_all(&app.db)
        .await
        .expect("slots");
    assert_eq!(left, vec![(bob.user_id,)], "only bob's slot is left");
    let marks: i64 = sqlx::query_scalar("SELECT count(*) FROM vault_keys WHERE user_id = $1")
        .bind(ada.user_id)
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(marks, 0);
    assert_eq!(app.keys(&ada).await.status, 401);
}
