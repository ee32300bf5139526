//! Account and devices: the account summary, logout, removing a device and deleting the
//! account (rows and S3 objects), against real Postgres, s3s-fs and moto.

mod common;

use aws_lambda_events::http::Method;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::handlers::{account, delete_account, login, logout, remove_device, state};

async fn table_rows(pool: &PgPool, user_id: uuid::Uuid) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (table, column) in [
        ("users", "id"),
        ("devices", "user_id"),
        ("refresh_tokens", "user_id"),
        ("file_state", "user_id"),
        ("file_versions", "user_id"),
        ("blobs", "user_id"),
    ] {
        let n: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {column} = $1"))
                .bind(user_id)
                .fetch_one(pool)
                .await
                .expect("count");
        out.push((table.to_owned(), n));
    }
    out
}

async fn with_identity(pool: PgPool, idp: &Idp) -> (TestState, String) {
    let (vault, queue) = vault_state(pool).await;
    let mut config = (*vault.config).clone();
    config.apple_client_ids = vec![APPLE_AUDIENCE.into()];
    config.apple_jwks_url = idp.apple_url();
    let login = login_state(
        steel_core::runtime::AppState::new(config, vault.db.clone()),
        Default::default(),
    );
    let state = TestState {
        login: login.login,
        ..vault
    };
    (state, queue)
}

async fn login_device(state: &TestState, sub: &str, name: &str) -> Value {
    let answer = call(
        state,
        login::handle,
        Method::POST,
        "/auth/login",
        Some(&json!({"provider": "apple", "identity_token": id_token(&apple_claims(sub)),
                     "device": {"device_name": name, "platform": "ios", "push_token": format!("tok-{name}")}})),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

fn at(v: &Value) -> String {
    v["access_token"].as_str().expect("access token").to_owned()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_account_shows_storage_and_devices(pool: PgPool) {
    let idp = Idp::start().await;
    let (state, _) = with_identity(pool.clone(), &idp).await;
    let http = reqwest::Client::new();
    let phone = login_device(&state, "acct", "iPhone").await;
    let mac = login_device(&state, "acct", "Mac").await;
    let dev = device_of(&phone);
    sync_note(&state, &http, &dev, "a.md", b"twelve bytes").await;

    let answer = call(
        &state,
        account::handle,
        Method::GET,
        "/account",
        None,
        Some(&at(&mac)),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["user_id"], phone["user_id"]);
    assert_eq!(answer.body["provider"], "apple");
    assert_eq!(answer.body["email"], "acct@privaterelay.appleid.com");
    assert_eq!(answer.body["vault_size"], 12);
    assert_eq!(answer.body["file_count"], 1);
    assert_eq!(answer.body["quota_bytes"], 1_000_000);
    let devices = answer.body["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2);
    let current: Vec<&Value> = devices.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_id"], mac["device_id"]);
    assert!(devices.iter().all(|d| d.get("push_token").is_none()));
    let unauthenticated = call(&state, account::handle, Method::GET, "/account", None, None).await;
    assert_eq!(unauthenticated.status, 401);
}

async fn sync_note(
    state: &TestState,
    http: &reqwest::Client,
    dev: &TestDevice,
    path: &str,
    bytes: &[u8],
) {
    let confirmed = sync_file(state, http, dev, path, 0, bytes).await;
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn logout_revokes_the_family_or_every_device(pool: PgPool) {
    let idp = Idp::start().await;
    let (state, _) = with_identity(pool.clone(), &idp).await;
    let phone = login_device(&state, "logout", "iPhone").await;
    let mac = login_device(&state, "logout", "Mac").await;

    let out = call(
        &state,
        logout::handle,
        Method::POST,
        "/auth/logout",
        None,
        Some(&at(&phone)),
    )
    .await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    assert_eq!(out.body["revoked_tokens"], 1);
    // Replay after logout: refused. The other device is untouched.
    let replay = refresh_with(&state, phone["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_revoked")
    );
    let still = refresh_with(&state, mac["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(still.status, 200);

    let all = call(
        &state,
        logout::handle,
        Method::POST,
        "/auth/logout",
        Some(&json!({"all_devices": true})),
        Some(&at(&mac)),
    )
    .await;
    assert_eq!(all.body["all_devices"], true);
    let newest = refresh_with(&state, still.body["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(newest.status, 401, "every family of the user is revoked");

    let bad = call(
        &state,
        logout::handle,
        Method::POST,
        "/auth/logout",
        Some(&json!({"refresh_token": "nope"})),
        Some(&at(&mac)),
    )
    .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_refresh_token"));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn removing_a_device_signs_it_out_at_once(pool: PgPool) {
    let idp = Idp::start().await;
    let (state, _) = with_identity(pool.clone(), &idp).await;
    let http = reqwest::Client::new();
    let phone = login_device(&state, "remover", "iPhone").await;
    let mac = login_device(&state, "remover", "Mac").await;
    let stranger = login_device(&state, "stranger", "Pixel").await;
    let phone_dev = device_of(&phone);
    sync_note(
        &state,
        &http,
        &phone_dev,
        "by-phone.md",
        b"written on the phone",
    )
    .await;
    let route = |id: &Value| format!("/devices/{}", id.as_str().expect("id"));
    let delete_device = |id: &Value, token: String| {
        let mut e = event(Method::DELETE, &route(id), None, Some(&token));
        e.path_parameters
            .insert("device_id".into(), id.as_str().expect("id").into());
        e
    };

    // Another user's device: 404, same as an unknown one; nothing changes.
    let foreign = call_event(
        &state,
        delete_device(&stranger["device_id"], at(&mac)),
        remove_device::handle,
    )
    .await;
    let unknown = call_event(
        &state,
        delete_device(&json!(uuid::Uuid::new_v4().to_string()), at(&mac)),
        remove_device::handle,
    )
    .await;
    assert_eq!((foreign.status, foreign.code()), (404, "device_not_found"));
    assert_eq!(foreign.body, unknown.body);
    let garbage = call_event(
        &state,
        delete_device(&json!("not-a-uuid"), at(&mac)),
        remove_device::handle,
    )
    .await;
    assert_eq!(garbage.status, 404);
    assert_eq!(
        refresh_with(&state, stranger["refresh_token"].as_str().expect("rt"))
            .await
            .status,
        200
    );

    let removed = call_event(
        &state,
        delete_device(&phone["device_id"], at(&mac)),
        remove_device::handle,
    )
    .await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    // Its access token stops now, not in an hour; its refresh token too; its push token is gone.
    let after = call(
        &state,
        state::handle,
        Method::GET,
        "/vault/state",
        None,
        Some(&at(&phone)),
    )
    .await;
    assert_eq!((after.status, after.code()), (401, "invalid_token"));
    assert_eq!(
        refresh_with(&state, phone["refresh_token"].as_str().expect("rt"))
            .await
            .status,
        401
    );
    let token: Option<String> = sqlx::query_scalar("SELECT push_token FROM devices WHERE id = $1")
        .bind(phone_dev.device_id)
        .fetch_one(&pool)
        .await
        .expect("row");
    assert_eq!(token, None);
    // Its history stays readable.
    let seen = call(
        &state,
        state::handle,
        Method::GET,
        "/vault/state",
        None,
        Some(&at(&mac)),
    )
    .await;
    assert_eq!(seen.body["files"][0]["updated_by"], phone["device_id"]);
    let listed = call(
        &state,
        account::handle,
        Method::GET,
        "/account",
        None,
        Some(&at(&mac)),
    )
    .await;
    assert_eq!(listed.body["devices"].as_array().map(Vec::len), Some(1));
    // Removing it again: 404.
    let again = call_event(
        &state,
        delete_device(&phone["device_id"], at(&mac)),
        remove_device::handle,
    )
    .await;
    assert_eq!(again.status, 404);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleting_the_account_leaves_nothing_and_touches_no_one_else(pool: PgPool) {
    let idp = Idp::start().await;
    let (state, _) = with_identity(pool.clone(), &idp).await;
    let http = reqwest::Client::new();
    let anna = login_device(&state, "anna-del", "iPhone").await;
    let bob = login_device(&state, "bob-del", "Mac").await;
    let dev = device_of;
    for i in 0..3 {
        sync_note(
            &state,
            &http,
            &dev(&anna),
            &format!("n{i}.md"),
            format!("anna {i}").as_bytes(),
        )
        .await;
    }
    sync_note(&state, &http, &dev(&bob), "bob.md", b"bob's note").await;
    let anna_id: uuid::Uuid = anna["user_id"]
        .as_str()
        .expect("uid")
        .parse()
        .expect("uuid");
    let bob_id: uuid::Uuid = bob["user_id"].as_str().expect("uid").parse().expect("uuid");
    let storage = state.storage();

    let del = |body: Value, token: String| {
        let mut e = event(Method::DELETE, "/account", Some(&body), Some(&token));
        e.route_key = Some("DELETE /account".into());
        e
    };
    let missing = call_event(&state, del(json!({}), at(&anna)), delete_account::handle).await;
    assert_eq!((missing.status, missing.code()), (400, "missing_field"));
    let wrong = call_event(
        &state,
        del(json!({"confirm": "yes"}), at(&anna)),
        delete_account::handle,
    )
    .await;
    assert_eq!((wrong.status, wrong.code()), (400, "confirmation_required"));
    assert_eq!(
        storage
            .list_user_keys(dev(&anna).user_id)
            .await
            .expect("keys")
            .len(),
        3
    );

    let done = call_event(
        &state,
        del(json!({"confirm": "DELETE"}), at(&anna)),
        delete_account::handle,
    )
    .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["objects_deleted"], 3);
    assert_eq!(done.body["purge_complete"], true);
    assert!(
        table_rows(&pool, anna_id)
            .await
            .iter()
            .all(|(_, n)| *n == 0),
        "{:?}",
        table_rows(&pool, anna_id).await
    );
    assert!(
        storage
            .list_user_keys(dev(&anna).user_id)
            .await
            .expect("keys")
            .is_empty()
    );
    // Bob is untouched.
    assert!(table_rows(&pool, bob_id).await.iter().all(|(_, n)| *n >= 1));
    assert_eq!(
        storage
            .list_user_keys(dev(&bob).user_id)
            .await
            .expect("keys")
            .len(),
        1
    );

    // The old tokens: 401. A new login with the same Apple id: an empty account.
    let old = call(
        &state,
        state::handle,
        Method::GET,
        "/vault/state",
        None,
        Some(&at(&anna)),
    )
    .await;
    assert_eq!(old.status, 401);
    assert_eq!(
        refresh_with(&state, anna["refresh_token"].as_str().expect("rt"))
            .await
            .status,
        401
    );
    let again = login_device(&state, "anna-del", "iPhone").await;
    assert_ne!(again["user_id"], anna["user_id"]);
    let fresh = call(
        &state,
        account::handle,
        Method::GET,
        "/account",
        None,
        Some(&at(&again)),
    )
    .await;
    assert_eq!(fresh.body["file_count"], 0);
    assert_eq!(fresh.body["vault_size"], 0);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn an_interrupted_purge_completes_on_retry(pool: PgPool) {
    let (state, _) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let dev = new_user_device(&state, "purge").await;
    for i in 0..5 {
        sync_note(
            &state,
            &http,
            &dev,
            &format!("p{i}.md"),
            format!("note {i}").as_bytes(),
        )
        .await;
    }
    let storage = state.storage();
    assert!(
        steel_core::db::account::delete_account(&state.db, dev.user_id)
            .await
            .expect("delete")
    );
    // The function dies after two pages of two keys.
    let (deleted, complete) = steel_core::purge::purge(state.state(), dev.user_id, 2, 2)
        .await
        .expect("partial");
    assert_eq!((deleted, complete), (4, false));
    assert_eq!(
        storage
            .list_user_keys(dev.user_id)
            .await
            .expect("keys")
            .len(),
        1
    );
    let pending = steel_core::db::account::pending_purges(&state.db, 10)
        .await
        .expect("pending");
    assert_eq!(
        pending.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![dev.user_id]
    );

    // The queued request, retried: the rest goes, the purge is recorded as done.
    let mut retry = SqsMessage::default();
    retry.message_id = Some("purge-1".into());
    retry.body = Some(json!({"purge_user_id": dev.user_id}).to_string());
    let mut junk = SqsMessage::default();
    junk.message_id = Some("junk".into());
    junk.body = Some("{".into());
    let mut event = SqsEvent::default();
    event.records = vec![retry, junk];
    let response = steel_core::purge::handle_batch(state.state(), event).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(
        storage
            .list_user_keys(dev.user_id)
            .await
            .expect("keys")
            .is_empty()
    );
    assert!(
        steel_core::db::account::pending_purges(&state.db, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    let total: i64 =
        sqlx::query_scalar("SELECT objects_deleted FROM account_purges WHERE user_id = $1")
            .bind(dev.user_id)
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(total, 5);
}

/// The sample events of the account endpoints (`events/`) through their real handlers (and
/// so through the OpenAPI check of `call_event`): with their placeholder token they are
/// refused, with a real one they do what they say.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn account_sample_events_go_through_the_handlers(pool: PgPool) {
    use aws_lambda_events::http::HeaderValue;

    let idp = Idp::start().await;
    let (state, _) = with_identity(pool.clone(), &idp).await;
    let phone = login_device(&state, "samples", "iPhone").await;
    let mac = login_device(&state, "samples", "Mac").await;
    // The sample as stored, with `token` in place of the placeholder when given.
    let sample = |name: &str, token: Option<&str>| {
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
    };

    // As stored: the placeholder is no token.
    let refused = [
        call_event(&state, sample("account/valid.json", None), account::handle).await,
        call_event(&state, sample("logout/valid.json", None), logout::handle).await,
        call_event(
            &state,
            sample("logout/all-devices.json", None),
            logout::handle,
        )
        .await,
        call_event(
            &state,
            sample("remove-device/valid.json", None),
            remove_device::handle,
        )
        .await,
        call_event(
            &state,
            sample("delete-account/valid.json", None),
            delete_account::handle,
        )
        .await,
    ];
    for answer in refused {
        assert_eq!((answer.status, answer.code()), (401, "invalid_token"));
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    }

    let summary = call_event(
        &state,
        sample("account/valid.json", Some(&at(&mac))),
        account::handle,
    )
    .await;
    assert_eq!(summary.status, 200, "{:?}", summary.body);
    assert_eq!(summary.body["user_id"], mac["user_id"]);
    let devices = summary.body["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2);
    let current: Vec<&Value> = devices.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_id"], mac["device_id"]);

    // Logout of this device: its refresh token is revoked, the other device's is not.
    let out = call_event(
        &state,
        sample("logout/valid.json", Some(&at(&phone))),
        logout::handle,
    )
    .await;
    assert_eq!(out.status, 200, "{:?}", out.body);
    assert_eq!(out.body["revoked_tokens"], 1);
    assert_eq!(out.body["all_devices"], false);
    let replay = refresh_with(&state, phone["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "refresh_token_revoked")
    );
    let rotated = refresh_with(&state, mac["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);

    // The sample's device is no device of this user: 404. Pointed at the phone: removed.
    let unknown = call_event(
        &state,
        sample("remove-device/valid.json", Some(&at(&mac))),
        remove_device::handle,
    )
    .await;
    assert_eq!((unknown.status, unknown.code()), (404, "device_not_found"));
    let phone_id = phone["device_id"].as_str().expect("device id");
    let mut remove = sample("remove-device/valid.json", Some(&at(&mac)));
    remove.raw_path = Some(format!("/devices/{phone_id}"));
    remove.request_context.http.path = remove.raw_path.clone();
    remove
        .path_parameters
        .insert("device_id".into(), phone_id.into());
    let removed = call_event(&state, remove, remove_device::handle).await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    assert_eq!(
        removed.body,
        json!({"device_id": phone_id, "removed": true})
    );
    let gone = call_event(
        &state,
        sample("account/valid.json", Some(&at(&phone))),
        account::handle,
    )
    .await;
    assert_eq!((gone.status, gone.code()), (401, "invalid_token"));

    // Logout everywhere: the rotated refresh token of the Mac is revoked too.
    let all = call_event(
        &state,
        sample("logout/all-devices.json", Some(&at(&mac))),
        logout::handle,
    )
    .await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(all.body["all_devices"], true);
    // The Mac's rotated token and its successor; the phone's were revoked already.
    assert_eq!(all.body["revoked_tokens"], 2);
    let after = refresh_with(&state, rotated.body["refresh_token"].as_str().expect("rt")).await;
    assert_eq!(after.status, 401);

    // Deleting the account: not without `confirm`; then for good.
    let missing = call_event(
        &state,
        sample("delete-account/missing-confirm.json", Some(&at(&mac))),
        delete_account::handle,
    )
    .await;
    assert_eq!((missing.status, missing.code()), (400, "missing_field"));
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("confirm"))
    );
    let deleted = call_event(
        &state,
        sample("delete-account/valid.json", Some(&at(&mac))),
        delete_account::handle,
    )
    .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(
        deleted.body,
        json!({"deleted": true, "objects_deleted": 0, "purge_complete": true})
    );
    let user_id: uuid::Uuid = mac["user_id"].as_str().expect("uid").parse().expect("uuid");
    assert!(
        table_rows(&pool, user_id)
            .await
            .iter()
            .all(|(_, n)| *n == 0)
    );
    let afterwards = call_event(
        &state,
        sample("account/valid.json", Some(&at(&mac))),
        account::handle,
    )
    .await;
    assert_eq!(
        (afterwards.status, afterwards.code()),
        (401, "invalid_token")
    );
}
