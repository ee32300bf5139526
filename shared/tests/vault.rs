//! The vault API end to end through the handlers: real Postgres, s3s-fs (which checks SigV4,
//! expiry and `x-amz-checksum-sha256`) behind presigned URLs, and an SQS queue on moto.

mod common;

use std::time::Duration;

use aws_lambda_events::http::Method;
use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::VaultPath;
use steel_core::handlers::{confirm, delete, pull, push, state};

fn entry(path: &str, base: i64, bytes: &[u8]) -> Value {
    json!({"path": path, "base_version": base, "content_hash": sha256_hex(bytes), "size_bytes": bytes.len()})
}

async fn post<'a, S, F, Fut>(
    state: &'a TestState,
    handler: F,
    route: &str,
    token: &str,
    body: Value,
) -> Answer
where
    S: AsRef<steel_core::runtime::AppState> + 'a,
    TestState: Serves<S>,
    F: FnOnce(&'a S, steel_core::http::ApiRequest) -> Fut,
    Fut: Future<Output = Result<steel_core::http::ApiResponse, steel_core::ApiError>>,
{
    call(
        state,
        handler,
        Method::POST,
        route,
        Some(&body),
        Some(token),
    )
    .await
}

async fn get_state(state: &TestState, token: &str, query: &[(&str, &str)]) -> Answer {
    let mut e = event(Method::GET, "/vault/state", None, Some(token));
    let map: std::collections::HashMap<String, String> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    e.query_string_parameters = map.into();
    call_event(state, e, state::handle).await
}

/// push → PUT → confirm, asserting each step succeeds; returns the new version.
async fn sync_up(
    state: &TestState,
    http: &reqwest::Client,
    dev: &TestDevice,
    path: &str,
    base: i64,
    bytes: &[u8],
) -> i64 {
    let confirmed = sync_file(state, http, dev, path, base, bytes).await;
    confirmed.body["confirmed"][0]["version"]
        .as_i64()
        .expect("version")
}

async fn versions(pool: &PgPool, path: &str) -> Vec<(i64, String, bool)> {
    sqlx::query_as("SELECT version, content_hash, is_deleted FROM file_versions WHERE path = $1 ORDER BY version")
        .bind(path)
        .fetch_all(pool)
        .await
        .expect("versions")
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn happy_path_from_one_device_to_another(pool: PgPool) {
    let (state, queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let mac = new_user_device(&state, "happy").await;
    let phone = another_device(&state, mac.user_id, "iPhone").await;
    let bytes = "# Idea\n\nNotes sync without losing a word.\n".as_bytes();
    let files = json!({"files": [entry("thoughts/Idea.md", 0, bytes)]});

    let pushed = post(
        &state,
        push::handle,
        "/vault/push",
        &mac.token,
        files.clone(),
    )
    .await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let up = &pushed.body["uploads"][0];
    assert_eq!(up["method"], "PUT");
    let url = up["upload_url"].as_str().expect("url");
    assert!(
        url.contains(&format!("{}/blobs/{}", mac.user_id, sha256_hex(bytes))),
        "{url}"
    );
    assert_eq!(
        up["headers"]["x-amz-checksum-sha256"],
        steel_core::domain::ContentHash::of(bytes).to_base64()
    );
    // Push changed nothing yet.
    assert!(versions(&pool, "thoughts/Idea.md").await.is_empty());

    let put = upload(&http, up, bytes).await;
    assert!(put.status().is_success(), "PUT: {}", put.status());
    let confirmed = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &mac.token,
        files,
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
    // Confirm answers no cursor (only state hands one out): the user's head after it.
    assert!(
        confirmed.body.get("cursor").is_none(),
        "{:?}",
        confirmed.body
    );
    let cursor = steel_core::db::files::current_cursor(&state.db, mac.user_id)
        .await
        .expect("cursor")
        .expect("user")
        .to_string();

    // The other device sees it in its state, and downloads the same bytes.
    let seen = get_state(&state, &phone.token, &[]).await;
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    let f = &seen.body["files"][0];
    assert_eq!(f["path"], "thoughts/Idea.md");
    assert_eq!(f["version"], 1);
    assert_eq!(f["content_hash"], sha256_hex(bytes));
    assert_eq!(f["size_bytes"], bytes.len());
    assert_eq!(f["updated_by"], mac.device_id.to_string());
    assert_eq!(f["is_deleted"], false);
    assert_eq!(seen.body["cursor"], cursor.as_str());
    assert_eq!(seen.body["has_more"], false);

    let pulled = post(
        &state,
        pull::handle,
        "/vault/pull",
        &phone.token,
        json!({"paths": ["thoughts/Idea.md", "nope.md"]}),
    )
    .await;
    assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    assert_eq!(pulled.body["not_found"], json!(["nope.md"]));
    let got = http
        .get(
            pulled.body["files"][0]["download_url"]
                .as_str()
                .expect("url"),
        )
        .send()
        .await
        .expect("GET");
    assert!(got.status().is_success());
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), bytes);

    // One notice for the notifier, naming the change.
    let notices = drain_queue(&state, &queue).await;
    assert_eq!(
        notices,
        vec![
            json!({"user_id": mac.user_id, "origin_device_id": mac.device_id, "cursor": cursor, "paths": ["thoughts/Idea.md"]})
        ]
    );
    let size: i64 = sqlx::query_scalar("SELECT vault_size FROM users")
        .fetch_one(&pool)
        .await
        .expect("size");
    assert_eq!(size, bytes.len() as i64);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn wrong_bytes_missing_uploads_and_expired_urls_never_commit(pool: PgPool) {
    let (state, queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let dev = new_user_device(&state, "wrong-bytes").await;
    let promised = b"the real note";
    let files = json!({"files": [entry("a.md", 0, promised)]});
    let pushed = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        files.clone(),
    )
    .await;
    let up = pushed.body["uploads"][0].clone();

    // Confirm before any upload: missing, nothing written.
    let early = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        files.clone(),
    )
    .await;
    assert_eq!(early.status, 200);
    assert_eq!(early.body["missing"][0]["code"], "not_uploaded");
    assert_eq!(early.body["confirmed"], json!([]));

    // Other bytes of the same length: the store refuses them (checksum is signed).
    let put = upload(&http, &up, b"a fake note!!").await;
    assert!(
        put.status().is_client_error(),
        "wrong bytes accepted: {}",
        put.status()
    );
    // Even a store that kept them would not get them committed.
    let after_bad = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        files.clone(),
    )
    .await;
    assert_eq!(
        after_bad.body["confirmed"],
        json!([]),
        "{:?}",
        after_bad.body
    );
    assert_eq!(
        after_bad.body["missing"].as_array().expect("missing").len(),
        1
    );

    // Another length than signed: refused too.
    let put = upload(&http, &up, b"short").await;
    assert!(put.status().is_client_error(), "{}", put.status());

    // A tampered checksum header does not match the signature.
    let mut tampered = up.clone();
    tampered["headers"]["x-amz-checksum-sha256"] =
        json!(steel_core::domain::ContentHash::of(b"x").to_base64());
    assert_eq!(upload(&http, &tampered, b"x").await.status(), 403);

    // An expired URL is refused.
    let storage = state.storage();
    let hash = steel_core::domain::ContentHash::of(promised);
    let short = storage
        .presign_upload(
            dev.user_id,
            &hash,
            promised.len() as i64,
            Duration::from_secs(1),
        )
        .await
        .expect("presign");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let short_entry = json!({"upload_url": short.url, "headers": short.headers});
    assert_eq!(upload(&http, &short_entry, promised).await.status(), 403);

    assert!(
        versions(&pool, "a.md").await.is_empty(),
        "nothing committed"
    );
    assert!(
        drain_queue(&state, &queue).await.is_empty(),
        "nothing announced"
    );

    // The right bytes (the first URL is still valid) then commit.
    let put = upload(&http, &up, promised).await;
    assert!(put.status().is_success(), "{}", put.status());
    let ok = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        files,
    )
    .await;
    assert_eq!(ok.body["confirmed"][0]["version"], 1, "{:?}", ok.body);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn concurrent_pushes_from_one_base_let_exactly_one_win(pool: PgPool) {
    let (state, _queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let mac = new_user_device(&state, "race").await;
    let phone = another_device(&state, mac.user_id, "iPhone").await;
    let base = b"shared base\n";
    assert_eq!(sync_up(&state, &http, &mac, "shared.md", 0, base).await, 1);

    let mac_edit = b"shared base\nedited on the Mac\n";
    let phone_edit = b"shared base\nedited on the phone\n";
    for (dev, bytes) in [(&mac, &mac_edit[..]), (&phone, &phone_edit[..])] {
        let pushed = post(
            &state,
            push::handle,
            "/vault/push",
            &dev.token,
            json!({"files": [entry("shared.md", 1, bytes)]}),
        )
        .await;
        assert!(
            upload(&http, &pushed.body["uploads"][0], bytes)
                .await
                .status()
                .is_success()
        );
    }
    let (a, b) = tokio::join!(
        post(
            &state,
            confirm::handle,
            "/vault/push/confirm",
            &mac.token,
            json!({"files": [entry("shared.md", 1, mac_edit)]})
        ),
        post(
            &state,
            confirm::handle,
            "/vault/push/confirm",
            &phone.token,
            json!({"files": [entry("shared.md", 1, phone_edit)]})
        ),
    );
    let (winner, loser, loser_bytes, loser_dev) =
        if a.body["confirmed"].as_array().expect("arr").len() == 1 {
            (a, b, &phone_edit[..], &phone)
        } else {
            (b, a, &mac_edit[..], &mac)
        };
    assert_eq!(winner.body["confirmed"][0]["version"], 2);
    assert_eq!(loser.body["confirmed"], json!([]));
    let conflict = &loser.body["conflicts"][0];
    assert_eq!(conflict["server_version"], 2);
    assert_eq!(
        conflict["content_hash"],
        winner.body["confirmed"][0]["content_hash"]
    );
    // The loser can fetch the winner's bytes to merge.
    let winner_bytes = http
        .get(conflict["download_url"].as_str().expect("url"))
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert_ne!(winner_bytes.as_ref(), loser_bytes);
    // ...and commit its merge on top: no version is lost.
    let merged = b"shared base\nedited on the Mac\nedited on the phone\n";
    assert_eq!(
        sync_up(&state, &http, loser_dev, "shared.md", 2, merged).await,
        3
    );
    let history = versions(&pool, "shared.md").await;
    assert_eq!(
        history.iter().map(|v| v.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(history[0].1, sha256_hex(base));
    assert_eq!(history[1].1, sha256_hex(&winner_bytes));
    assert_eq!(history[2].1, sha256_hex(merged));
    // Every version's bytes stay readable (content-addressed blobs).
    let old = post(
        &state,
        pull::handle,
        "/vault/pull",
        &mac.token,
        json!({"files": [{"path": "shared.md", "version": 1}]}),
    )
    .await;
    let got = http
        .get(old.body["files"][0]["download_url"].as_str().expect("url"))
        .send()
        .await
        .expect("GET");
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), base);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn retries_are_idempotent(pool: PgPool) {
    let (state, queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let dev = new_user_device(&state, "retry").await;
    let other = another_device(&state, dev.user_id, "iPad").await;
    let bytes = b"retry me";
    let files = json!({"files": [entry("r.md", 0, bytes)]});
    let first = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        files.clone(),
    )
    .await;
    let second = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        files.clone(),
    )
    .await;
    assert_eq!(first.body["uploads"].as_array().map(Vec::len), Some(1));
    assert_eq!(second.body["uploads"].as_array().map(Vec::len), Some(1));
    assert!(
        upload(&http, &first.body["uploads"][0], bytes)
            .await
            .status()
            .is_success()
    );

    let c1 = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        files.clone(),
    )
    .await;
    // The response was lost: the device confirms again. Same answer, no new version.
    let c2 = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        files.clone(),
    )
    .await;
    assert_eq!(c1.body["confirmed"], c2.body["confirmed"]);
    assert_eq!(c2.body["confirmed"][0]["version"], 1);
    assert_eq!(versions(&pool, "r.md").await.len(), 1);
    assert_eq!(drain_queue(&state, &queue).await.len(), 1, "announced once");
    // ...or it pushes again: unchanged, nothing to upload.
    let again = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        files.clone(),
    )
    .await;
    assert_eq!(
        again.body["unchanged"],
        json!([{"path": "r.md", "version": 1, "content_hash": sha256_hex(bytes)}])
    );
    assert_eq!(again.body["uploads"], json!([]));
    // The same edit made on another device is not a conflict either.
    let same = post(
        &state,
        push::handle,
        "/vault/push",
        &other.token,
        files.clone(),
    )
    .await;
    assert_eq!(same.body["unchanged"][0]["version"], 1);
    // But a confirm of that stale base from another device is a conflict, not a retry.
    let stale = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &other.token,
        files,
    )
    .await;
    assert_eq!(
        stale.body["conflicts"][0]["server_version"], 1,
        "{:?}",
        stale.body
    );
    // Known bytes under another name: no second upload.
    let copy = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        json!({"files": [entry("copy.md", 0, bytes)]}),
    )
    .await;
    assert!(
        copy.body["uploads"][0]["upload_url"].is_null(),
        "{:?}",
        copy.body
    );
    let confirmed = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        json!({"files": [entry("copy.md", 0, bytes)]}),
    )
    .await;
    assert_eq!(confirmed.body["confirmed"][0]["version"], 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deletes_are_version_checked_and_tombstones_revive_only_from_their_version(pool: PgPool) {
    let (state, queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let mac = new_user_device(&state, "deleter").await;
    let phone = another_device(&state, mac.user_id, "iPhone").await;
    sync_up(&state, &http, &mac, "d.md", 0, b"v1").await;
    sync_up(&state, &http, &mac, "d.md", 1, b"v2").await;
    drain_queue(&state, &queue).await;

    // The phone only saw v1: it cannot delete v2.
    let stale = post(
        &state,
        delete::handle,
        "/vault/delete",
        &phone.token,
        json!({"files": [{"path": "d.md", "base_version": 1}]}),
    )
    .await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body["deleted"], json!([]));
    assert_eq!(stale.body["conflicts"][0]["server_version"], 2);
    assert!(stale.body["conflicts"][0]["download_url"].is_string());

    let ok = post(&state, delete::handle, "/vault/delete", &phone.token, json!({"files": [{"path": "d.md", "base_version": 2}, {"path": "ghost.md", "base_version": 1}]})).await;
    assert_eq!(ok.body["deleted"][0]["version"], 3, "{:?}", ok.body);
    assert_eq!(ok.body["not_found"], json!(["ghost.md"]));
    let notices = drain_queue(&state, &queue).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["paths"], json!(["d.md"]));
    assert_eq!(notices[0]["origin_device_id"], phone.device_id.to_string());
    let head = steel_core::db::files::current_cursor(&state.db, phone.user_id)
        .await
        .expect("cursor")
        .expect("user");
    assert_eq!(notices[0]["cursor"], head.to_string());
    let size: i64 = sqlx::query_scalar("SELECT vault_size FROM users")
        .fetch_one(&pool)
        .await
        .expect("size");
    assert_eq!(size, 0);

    // Deleting again is success.
    let again = post(
        &state,
        delete::handle,
        "/vault/delete",
        &phone.token,
        json!({"files": [{"path": "d.md", "base_version": 2}]}),
    )
    .await;
    assert_eq!(again.body["deleted"][0]["version"], 3);
    assert!(drain_queue(&state, &queue).await.is_empty());

    // A stale device pushing its old edit cannot resurrect it.
    let zombie = post(
        &state,
        push::handle,
        "/vault/push",
        &mac.token,
        json!({"files": [entry("d.md", 2, b"old edit")]}),
    )
    .await;
    assert_eq!(
        zombie.body["conflicts"][0]["is_deleted"], true,
        "{:?}",
        zombie.body
    );
    assert!(zombie.body["conflicts"][0]["download_url"].is_null());
    let zombie = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &mac.token,
        json!({"files": [entry("d.md", 2, b"v2")]}),
    )
    .await;
    assert_eq!(
        zombie.body["conflicts"][0]["is_deleted"], true,
        "{:?}",
        zombie.body
    );
    // Based on the tombstone, it comes back as a new version.
    assert_eq!(
        sync_up(&state, &http, &mac, "d.md", 3, b"back again").await,
        4
    );
    let pulled = post(
        &state,
        pull::handle,
        "/vault/pull",
        &phone.token,
        json!({"files": [{"path": "d.md", "version": 3}, {"path": "d.md", "version": 9}]}),
    )
    .await;
    assert_eq!(pulled.status, 200, "{:?}", pulled.body);
    let history = versions(&pool, "d.md").await;
    assert_eq!(
        history.iter().map(|v| (v.0, v.2)).collect::<Vec<_>>(),
        vec![(1, false), (2, false), (3, true), (4, false)]
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn paths_are_canonical_and_bad_input_writes_nothing(pool: PgPool) {
    let (state, queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let dev = new_user_device(&state, "paths").await;
    let nfd = "thoughts/Cafe\u{301}.md";
    let nfc = "thoughts/Caf\u{e9}.md";
    sync_up(&state, &http, &dev, nfd, 0, b"cafe").await;
    let seen = get_state(&state, &dev.token, &[]).await;
    assert_eq!(
        seen.body["files"][0]["path"], nfc,
        "responses carry the NFC path"
    );
    // The NFC spelling names the same file.
    let pushed = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        json!({"files": [entry(nfc, 1, b"cafe 2")]}),
    )
    .await;
    assert_eq!(pushed.body["uploads"][0]["path"], nfc);
    assert_eq!(pushed.body["uploads"][0]["base_version"], 1);

    // Case-only collision with a live file: refused, naming the existing path.
    let upper = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        json!({"files": [entry("THOUGHTS/CAFÉ.md", 0, b"x")]}),
    )
    .await;
    assert_eq!(
        upper.body["rejected"][0]["code"], "case_conflict",
        "{:?}",
        upper.body
    );
    assert!(
        upper.body["rejected"][0]["message"]
            .as_str()
            .expect("msg")
            .contains(nfc)
    );
    let upper = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        json!({"files": [entry("THOUGHTS/CAFÉ.md", 0, b"cafe")]}),
    )
    .await;
    assert_eq!(
        upper.body["rejected"][0]["code"], "case_conflict",
        "{:?}",
        upper.body
    );

    let big = 1_000_001;
    let bad = json!({"files": [
        {"path": "/abs.md", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": 1},
        {"path": "a/../b.md", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": 1},
        {"path": ".steel/sync.db", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": 1},
        {"path": "back\\slash.md", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": 1},
        {"path": "ctrl\u{7}.md", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": 1},
        {"path": "hash.md", "base_version": 0, "content_hash": "ABC", "size_bytes": 1},
        {"path": "neg.md", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": -1},
        {"path": "huge.md", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": 60 * 1024 * 1024},
        {"path": "quota.md", "base_version": 0, "content_hash": sha256_hex(b"x"), "size_bytes": big},
        {"path": "base.md", "base_version": -1, "content_hash": sha256_hex(b"x"), "size_bytes": 1},
        {"path": "ok.md", "base_version": 0, "content_hash": sha256_hex(b"ok"), "size_bytes": 2},
        {"path": "ok.md", "base_version": 0, "content_hash": sha256_hex(b"ok"), "size_bytes": 2},
    ]});
    for (handler_name, answer) in [
        (
            "push",
            post(&state, push::handle, "/vault/push", &dev.token, bad.clone()).await,
        ),
        (
            "confirm",
            post(
                &state,
                confirm::handle,
                "/vault/push/confirm",
                &dev.token,
                bad.clone(),
            )
            .await,
        ),
    ] {
        assert_eq!(answer.status, 200, "{handler_name}: {:?}", answer.body);
        let mut codes: Vec<(&str, &str)> = answer.body["rejected"]
            .as_array()
            .expect("rejected")
            .iter()
            .map(|r| {
                (
                    r["path"].as_str().expect("path"),
                    r["code"].as_str().expect("code"),
                )
            })
            .collect();
        codes.sort();
        if handler_name == "confirm" {
            // Confirm checks the bytes first: never uploaded, so missing (the quota is
            // checked again when committing).
            let missing: Vec<&str> = answer.body["missing"]
                .as_array()
                .expect("missing")
                .iter()
                .map(|m| m["path"].as_str().expect("path"))
                .collect();
            assert_eq!(missing, vec!["quota.md", "ok.md"]);
            codes.push(("quota.md", "quota_exceeded"));
            codes.sort();
        }
        assert_eq!(
            codes,
            vec![
                (".steel/sync.db", "invalid_path"),
                ("/abs.md", "invalid_path"),
                ("a/../b.md", "invalid_path"),
                ("back\\slash.md", "invalid_path"),
                ("base.md", "invalid_base_version"),
                ("ctrl\u{7}.md", "invalid_path"),
                ("hash.md", "invalid_content_hash"),
                ("huge.md", "invalid_size"),
                ("neg.md", "invalid_size"),
                ("ok.md", "duplicate_path"),
                ("quota.md", "quota_exceeded"),
            ],
            "{handler_name}"
        );
    }
    // 1001 files, missing auth, a garbled body: whole-request 4xx.
    let many: Vec<Value> = (0..1001)
        .map(|i| entry(&format!("n{i}.md"), 0, b"x"))
        .collect();
    let answer = post(
        &state,
        push::handle,
        "/vault/push",
        &dev.token,
        json!({"files": many}),
    )
    .await;
    assert_eq!((answer.status, answer.code()), (400, "too_many_files"));
    let answer = call(
        &state,
        push::handle,
        Method::POST,
        "/vault/push",
        Some(&json!({"files": []})),
        None,
    )
    .await;
    assert_eq!((answer.status, answer.code()), (401, "missing_token"));
    let answer = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        json!({"files": [{"path": "x.md"}]}),
    )
    .await;
    assert_eq!((answer.status, answer.code()), (400, "missing_field"));
    let answer = post(
        &state,
        delete::handle,
        "/vault/delete",
        &dev.token,
        json!({"files": "nope"}),
    )
    .await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_type"));
    let answer = post(&state, pull::handle, "/vault/pull", &dev.token, json!({})).await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_request"));

    // Nothing of that was written: still one file at version 1.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM file_versions")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    assert_eq!(
        drain_queue(&state, &queue).await.len(),
        1,
        "only the first commit"
    );
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn one_user_can_never_reach_another_users_files(pool: PgPool) {
    let (state, _queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let anna = new_user_device(&state, "anna").await;
    let bob = new_user_device(&state, "bob").await;
    sync_up(&state, &http, &anna, "private.md", 0, b"anna's secret").await;

    let seen = get_state(&state, &bob.token, &[]).await;
    assert_eq!(seen.body["files"], json!([]));
    let pulled = post(
        &state,
        pull::handle,
        "/vault/pull",
        &bob.token,
        json!({"paths": ["private.md"]}),
    )
    .await;
    assert_eq!(pulled.body["not_found"], json!(["private.md"]));
    let pulled = post(
        &state,
        pull::handle,
        "/vault/pull",
        &bob.token,
        json!({"files": [{"path": "private.md", "version": 1}]}),
    )
    .await;
    assert_eq!(pulled.body["not_found"], json!(["private.md"]));
    let deleted = post(
        &state,
        delete::handle,
        "/vault/delete",
        &bob.token,
        json!({"files": [{"path": "private.md", "base_version": 1}]}),
    )
    .await;
    assert_eq!(deleted.body["not_found"], json!(["private.md"]));
    // Bob pushing the same content gets his own upload URL under his own prefix.
    let pushed = post(
        &state,
        push::handle,
        "/vault/push",
        &bob.token,
        json!({"files": [entry("private.md", 0, b"anna's secret")]}),
    )
    .await;
    let url = pushed.body["uploads"][0]["upload_url"]
        .as_str()
        .expect("own upload");
    assert!(url.contains(&bob.user_id.to_string()) && !url.contains(&anna.user_id.to_string()));
    let anna_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM file_state WHERE user_id = $1")
        .bind(anna.user_id)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(anna_rows, 1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn state_pages_with_a_monotonic_cursor(pool: PgPool) {
    let (state, _queue) = vault_state(pool.clone()).await;
    let dev = new_user_device(&state, "pager").await;
    // Straight into the database: this test is about paging, not uploads.
    for i in 0..12 {
        let path = VaultPath::parse(&format!("p/{i:02}.md")).expect("path");
        let proposal = steel_core::vault::rules::Proposal {
            path,
            base: steel_core::domain::Version::NONE,
            content: steel_core::vault::rules::Content {
                hash: steel_core::domain::ContentHash::of(&[i]),
                size: 1,
            },
        };
        steel_core::db::writes::commit_versions(
            &state.db,
            dev.user_id,
            Some(dev.device_id),
            &[proposal],
            u64::MAX,
        )
        .await
        .expect("write");
    }
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut q = vec![("limit", "5")];
        if let Some(c) = cursor.as_deref() {
            q.push(("cursor", c));
        }
        let answer = get_state(&state, &dev.token, &q).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        pages += 1;
        seen.extend(
            answer.body["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| f["path"].as_str().expect("p").to_owned()),
        );
        let next = answer.body["cursor"].as_str().expect("cursor").to_owned();
        if let Some(prev) = &cursor {
            let n = |c: &str| c[1..].parse::<i64>().expect("seq");
            assert!(n(&next) >= n(prev), "cursor went backwards");
        }
        cursor = Some(next);
        if answer.body["has_more"] == false {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 12);
    let last = cursor.expect("cursor");
    let empty = get_state(&state, &dev.token, &[("cursor", &last)]).await;
    assert_eq!(empty.body["files"], json!([]));
    assert_eq!(empty.body["cursor"], last.as_str());

    for bad in ["garbled", "c", "c99999"] {
        let answer = get_state(&state, &dev.token, &[("cursor", bad)]).await;
        assert_eq!(
            (answer.status, answer.code()),
            (410, "resync_required"),
            "{bad}"
        );
    }
    for bad in ["0", "5001", "x"] {
        let answer = get_state(&state, &dev.token, &[("limit", bad)]).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid_limit"),
            "{bad}"
        );
    }
    let answer = get_state(&state, &dev.token, &[("since", "yesterday")]).await;
    assert_eq!((answer.status, answer.code()), (400, "invalid_since"));
    let answer = get_state(&state, &dev.token, &[("since", "2000-01-01T00:00:00Z")]).await;
    assert_eq!(answer.body["files"].as_array().map(Vec::len), Some(12));
    assert_eq!(answer.body["cursor"], last.as_str());
    let answer = get_state(&state, &dev.token, &[("since", "2100-01-01T00:00:00Z")]).await;
    assert_eq!(answer.body["files"], json!([]));
    assert_eq!(
        answer.body["cursor"],
        last.as_str(),
        "up to date: the head cursor"
    );
    let answer = call(
        &state,
        state::handle,
        Method::GET,
        "/vault/state",
        None,
        Some("not-a-token"),
    )
    .await;
    assert_eq!(answer.status, 401);
}

/// The samples in events/{state,push,confirm,pull,delete} through the real handlers.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn vault_sample_events_go_through_the_handlers(pool: PgPool) {
    let (state, _queue) = vault_state(pool.clone()).await;
    let dev = new_user_device(&state, "samples").await;
    let with_token = |name: &str| {
        let mut e = sample_event(name);
        e.headers.insert(
            "authorization",
            format!("Bearer {}", dev.token).parse().expect("hdr"),
        );
        e
    };
    let answer = call_event(&state, with_token("push/valid.json"), push::handle).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["uploads"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        answer.body["conflicts"].as_array().map(Vec::len),
        Some(1),
        "base 3 of a new file"
    );
    let answer = call_event(&state, with_token("push/base64-body.json"), push::handle).await;
    assert_eq!(answer.body["uploads"][0]["path"], "questions/Why.md");
    let answer = call_event(&state, with_token("confirm/valid.json"), confirm::handle).await;
    assert_eq!(
        answer.body["missing"][0]["code"], "not_uploaded",
        "{:?}",
        answer.body
    );
    let answer = call_event(&state, with_token("pull/valid.json"), pull::handle).await;
    assert_eq!(answer.body["not_found"].as_array().map(Vec::len), Some(2));
    let answer = call_event(&state, with_token("pull/versions.json"), pull::handle).await;
    assert_eq!(answer.body["not_found"].as_array().map(Vec::len), Some(1));
    let answer = call_event(&state, with_token("delete/valid.json"), delete::handle).await;
    assert_eq!(answer.body["not_found"], json!(["thoughts/Idea.md"]));
    let answer = call_event(&state, with_token("state/from-start.json"), state::handle).await;
    assert_eq!(answer.status, 200);
    let answer = call_event(&state, with_token("state/from-cursor.json"), state::handle).await;
    assert_eq!(
        (answer.status, answer.code()),
        (410, "resync_required"),
        "c42 is ahead of this new user"
    );
    for name in ["push/valid.json", "state/from-start.json"] {
        let answer = if name.starts_with("push") {
            call_event(&state, sample_event(name), push::handle).await
        } else {
            call_event(&state, sample_event(name), state::handle).await
        };
        assert_eq!(answer.status, 401, "{name} with its placeholder token");
    }
}

/// A file that claims known bytes with another size is not confirmed on the strength of the
/// verified blob: the hash names the bytes, and their size is part of them.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_known_hash_with_a_wrong_size_is_not_trusted(pool: PgPool) {
    let (state, _queue) = vault_state(pool.clone()).await;
    let http = reqwest::Client::new();
    let dev = new_user_device(&state, "liar").await;
    let bytes = b"eleven byte";
    sync_up(&state, &http, &dev, "real.md", 0, bytes).await;
    let lie = json!({"files": [{"path": "lie.md", "base_version": 0,
                                "content_hash": sha256_hex(bytes), "size_bytes": 999}]});
    let pushed = post(&state, push::handle, "/vault/push", &dev.token, lie.clone()).await;
    assert!(
        pushed.body["uploads"][0]["upload_url"].is_string(),
        "{:?}",
        pushed.body
    );
    let confirmed = post(
        &state,
        confirm::handle,
        "/vault/push/confirm",
        &dev.token,
        lie,
    )
    .await;
    assert_eq!(confirmed.body["confirmed"], json!([]));
    assert_eq!(
        confirmed.body["missing"][0]["code"], "content_mismatch",
        "{:?}",
        confirmed.body
    );
    assert!(versions(&pool, "lie.md").await.is_empty());
}
