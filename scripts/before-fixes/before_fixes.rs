//! Issue 13's defect tests, ported to the harness of 97dae56 (the code before the fixes),
//! each asserting the FIXED behaviour exactly as the current tests do. Every one must fail
//! here: that is the proof that the current tests catch the defects.

mod common;

use std::time::Duration;

use common::*;
use aws_lambda_events::http::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::handlers;

fn entry(path: &str, base: i64, bytes: &[u8]) -> Value {
    json!({"path": path, "base_version": base, "content_hash": sha256_hex(bytes),
           "size_bytes": bytes.len()})
}

async fn push(state: &steel_core::runtime::AppState, dev: &TestDevice, body: &Value) -> Answer {
    call(state, handlers::push::handle, Method::POST, "/vault/push", Some(body), Some(&dev.token)).await
}

async fn confirm(state: &steel_core::runtime::AppState, dev: &TestDevice, body: &Value) -> Answer {
    call(
        state,
        handlers::confirm::handle,
        Method::POST,
        "/vault/push/confirm",
        Some(body),
        Some(&dev.token),
    )
    .await
}

/// Pushes `body` and PUTs every upload asked for with the bytes of its hash.
async fn push_and_upload(
    state: &steel_core::runtime::AppState,
    dev: &TestDevice,
    body: &Value,
    bytes: &[&[u8]],
) -> Answer {
    let http = reqwest::Client::new();
    let pushed = push(state, dev, body).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    for up in pushed.body["uploads"].as_array().expect("uploads") {
        if up["upload_url"].is_null() {
            continue;
        }
        let wanted = up["content_hash"].as_str().expect("hash");
        let b = bytes.iter().find(|b| sha256_hex(b) == wanted).expect("bytes");
        assert!(upload(&http, up, b).await.status().is_success());
    }
    pushed
}

fn twins() -> Value {
    json!({"files": [entry("Dup/Readme.md", 0, b"x"), entry("dup/README.md", 0, b"x"),
                     entry("other.md", 0, b"other")]})
}

// Defect 1: case twins in one request.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d1_push_hands_out_one_upload_of_two_case_twins(pool: PgPool) {
    let (state, _) = vault_state(pool).await;
    let dev = new_user_device(&state, "twins").await;
    let pushed = push_and_upload(&state, &dev, &twins(), &[b"x", b"other"]).await;
    let paths: Vec<&str> = pushed.body["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["path"].as_str())
        .collect();
    assert_eq!(paths, ["Dup/Readme.md", "other.md"], "{:?}", pushed.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d1_confirm_refuses_the_second_twin_and_commits_the_rest(pool: PgPool) {
    let (state, _) = vault_state(pool).await;
    let dev = new_user_device(&state, "twins").await;
    push_and_upload(&state, &dev, &twins(), &[b"x", b"other"]).await;
    let confirmed = confirm(&state, &dev, &twins()).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let paths: Vec<&str> = confirmed.body["confirmed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert_eq!(paths, ["Dup/Readme.md", "other.md"]);
    assert_eq!(confirmed.body["rejected"][0]["code"], "case_conflict");
}

// Defect 2: one hash, two sizes.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d2_one_hash_two_sizes_confirms_the_right_one_in_either_order(pool: PgPool) {
    let (state, _) = vault_state(pool).await;
    let dev = new_user_device(&state, "sizes").await;
    let bytes: &[u8] = b"shared bytes\n";
    push_and_upload(&state, &dev, &json!({"files": [entry("a.md", 0, bytes)]}), &[bytes]).await;
    let mut wrong = entry("b.md", 0, bytes);
    wrong["size_bytes"] = json!(20);
    for files in [
        json!([entry("a.md", 0, bytes), wrong.clone()]),
        json!([wrong.clone(), entry("a.md", 0, bytes)]),
    ] {
        let answer = confirm(&state, &dev, &json!({ "files": files })).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let confirmed: Vec<&str> = answer.body["confirmed"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["path"].as_str())
            .collect();
        assert_eq!(confirmed, ["a.md"], "order {files}: {:?}", answer.body);
    }
}

// Defect 3: a confirm racing the account's deletion.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d3_a_confirm_racing_the_deletion_is_a_401(pool: PgPool) {
    let (state, _) = vault_state(pool.clone()).await;
    let dev = new_user_device(&state, "racer").await;
    let files: Vec<Value> = (0..50)
        .map(|i| entry(&format!("race/{i}.md"), 0, format!("new {i}").as_bytes()))
        .collect();
    let body = json!({ "files": files });
    let owned: Vec<Vec<u8>> = (0..50).map(|i| format!("new {i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    push_and_upload(&state, &dev, &body, &refs).await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(dev.user_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let delete = async {
        loop {
            let blocked: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            if blocked > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(dev.user_id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    };
    let (answer, ()) = tokio::join!(confirm(&state, &dev, &body), delete);
    assert_eq!((answer.status, answer.code()), (401, "invalid_token"), "{:?}", answer.body);
}

// Defect 4: versions out of range.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d4_a_base_version_out_of_range_is_refused_per_file(pool: PgPool) {
    let (state, _) = vault_state(pool).await;
    let dev = new_user_device(&state, "versions").await;
    for base in [i64::MAX, -1, 9_007_199_254_740_992] {
        let body = json!({"files": [entry("a.md", base, b"x"), entry("ok.md", 0, b"y")]});
        let answer = push(&state, &dev, &body).await;
        assert_eq!(answer.status, 200, "base {base}: {:?}", answer.body);
        assert_eq!(answer.body["rejected"][0]["code"], "invalid_base_version", "base {base}");
        assert_eq!(answer.body["uploads"].as_array().unwrap().len(), 1);
    }
}

// Defect 5: the cursor trap.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d5_confirm_answers_carry_no_cursor_to_store(pool: PgPool) {
    let (state, _) = vault_state(pool).await;
    let http = reqwest::Client::new();
    let a = new_user_device(&state, "trap").await;
    let confirmed = sync_file(&state, &http, &a, "a.md", 0, b"a").await;
    assert_eq!(confirmed.status, 200);
    assert!(
        confirmed.body.get("cursor").is_none(),
        "confirm hands out a cursor a client would store: {:?}",
        confirmed.body
    );
}

// Defect 6: two versions of one path in one pull.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d6_pull_takes_two_versions_of_one_path(pool: PgPool) {
    let (state, _) = vault_state(pool).await;
    let http = reqwest::Client::new();
    let dev = new_user_device(&state, "merge").await;
    sync_file(&state, &http, &dev, "a.md", 0, b"base").await;
    sync_file(&state, &http, &dev, "a.md", 1, b"theirs").await;
    let body = json!({"files": [{"path": "a.md", "version": 1}, {"path": "a.md", "version": 2}]});
    let answer = call(
        &state,
        handlers::pull::handle,
        Method::POST,
        "/vault/pull",
        Some(&body),
        Some(&dev.token),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["files"].as_array().unwrap().len(), 2, "{:?}", answer.body);
}

// Defect 6: limits in openapi.yaml.
#[test]
fn d6_openapi_states_the_limits() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    let device = &doc["components"]["schemas"]["DeviceInput"]["properties"];
    assert_eq!(device["device_name"]["maxLength"], 200, "{device}");
    assert_eq!(device["device_name"]["minLength"], 1);
    assert!(device["push_token"]["pattern"].is_string(), "{device}");
}

// Refresh: a retry whose answer was lost gets the same successor.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn d7_a_retried_refresh_gets_the_same_successor(pool: PgPool) {
    let idp = Idp::start().await;
    let state = auth_state(pool, &idp).await;
    let login = call(
        &state,
        handlers::login::handle,
        Method::POST,
        "/auth/login",
        Some(&json!({"provider": "apple", "identity_token": id_token(&apple_claims("retry")),
                     "device": {"device_name": "Mac", "platform": "macos"}})),
        None,
    )
    .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let r0 = login.body["refresh_token"].as_str().unwrap().to_owned();
    let first = refresh_with(&state, &r0).await;
    assert_eq!(first.status, 200);
    // The answer was lost: the client sends r0 again.
    let retry = refresh_with(&state, &r0).await;
    assert_eq!(retry.status, 200, "{:?}", retry.body);
    assert_eq!(retry.body["refresh_token"], first.body["refresh_token"]);
}
