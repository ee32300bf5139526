//! Bulk upload (`POST /vault/bulk`, `POST /vault/bulk/confirm`) against the real services:
//! many notes go up in one uploaded pack that confirm checks blob by blob, splits into the
//! blobs' keys and commits with confirm's rules; a pack whose bytes are not its index's
//! commits nothing; a stale base is a conflict; bad requests are refused whole with a 4xx.

use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{ContentHash, UserId};
use steel_core::storage::incoming_key;

use crate::support::{TestApp, TestDevice};

fn hex(bytes: &[u8]) -> String {
    ContentHash::of(bytes).to_hex()
}

/// The pack of `contents` (back to back) and its index.
pub(crate) fn pack_of(contents: &[&[u8]]) -> (Vec<u8>, Value) {
    let mut body = Vec::new();
    let mut index = Vec::new();
    for c in contents {
        index.push(json!({"content_hash": hex(c), "offset": body.len(), "length": c.len()}));
        body.extend_from_slice(c);
    }
    (body, Value::Array(index))
}

/// Push-style entries for new notes `n{i}.md` of `contents`, from base 0.
fn files_of(contents: &[&[u8]]) -> Value {
    Value::Array(
        contents
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({"path": format!("n{i}.md"), "base_version": 0,
                       "content_hash": hex(c), "size_bytes": c.len()})
            })
            .collect(),
    )
}

/// `POST /vault/bulk` for `pack` and its PUT, asserting both succeed; the pack id.
pub(crate) async fn upload_pack(app: &TestApp, dev: &TestDevice, pack: &[u8]) -> String {
    let started = app
        .bulk(
            dev,
            json!({"content_hash": hex(pack), "size_bytes": pack.len()}),
        )
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let put = app.upload(&started.body, pack).await;
    assert!(put.status().is_success(), "PUT {}", put.status());
    started.body["pack_id"]
        .as_str()
        .expect("pack_id")
        .to_owned()
}

async fn count(pool: &PgPool, sql: &str, user: UserId) -> i64 {
    sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn versions(pool: &PgPool, user: UserId) -> i64 {
    count(
        pool,
        "SELECT count(*) FROM file_state WHERE user_id = $1",
        user,
    )
    .await
}

async fn blob_rows(pool: &PgPool, user: UserId) -> i64 {
    count(pool, "SELECT count(*) FROM blobs WHERE user_id = $1", user).await
}

pub(crate) async fn incoming_exists(app: &TestApp, user: UserId, pack_id: &str) -> bool {
    let key = incoming_key(user, pack_id.parse().expect("uuid"));
    app.s3
        .head_object()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn many_notes_go_up_in_one_pack_and_commit_as_confirm_does(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("bulk-basic").await;
    let contents: [&[u8]; 4] = [b"alpha", b"beta beta", b"", b"delta"];
    let files = files_of(&contents);
    let pushed = app.push(&dev, json!({"files": files})).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let (pack, index) = pack_of(&contents);
    let pack_id = upload_pack(&app, &dev, &pack).await;
    assert!(incoming_exists(&app, dev.user_id, &pack_id).await);

    let confirmed = app
        .bulk_confirm(
            &dev,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(
        confirmed.body["confirmed"].as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(confirmed.body["missing"], json!([]));
    assert_eq!(versions(&pool, dev.user_id).await, 4);
    // Each blob at its own key, checked, and counted; the incoming pack and its grant gone.
    let keys = app.user_keys(dev.user_id).await;
    for c in contents {
        assert!(keys.iter().any(|k| k.ends_with(&hex(c))), "{keys:?}");
    }
    assert!(!incoming_exists(&app, dev.user_id, &pack_id).await);
    let account = app.account(&dev).await;
    assert_eq!(
        account.body["stored_bytes"].as_u64(),
        Some(contents.iter().map(|c| c.len() as u64).sum())
    );
    let pack_grant = steel_core::storage::incoming_grant_key(dev.user_id, pack_id.parse().unwrap());
    let grants: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM upload_grants WHERE user_id = $1 AND content_hash = $2",
    )
    .bind(dev.user_id)
    .bind(pack_grant.to_hex())
    .fetch_one(&pool)
    .await
    .expect("grants");
    assert_eq!(grants, 0);
    // A second device reads the notes as any others.
    let pulled = app.pull(&dev, json!({"paths": ["n1.md"]})).await;
    let bytes = app.download(&pulled.body["files"][0]["download_url"]).await;
    assert_eq!(bytes, b"beta beta");
    // A change notice went out, as for confirm.
    assert_eq!(app.drain_notices().await.len(), 1);
    // The same confirm again: the pack was closed.
    let again = app
        .bulk_confirm(
            &dev,
            json!({"pack_id": pack_id, "blobs": pack_of(&contents).1, "files": files}),
        )
        .await;
    assert_eq!(again.status, 404, "{:?}", again.body);
    assert_eq!(again.body["error"]["code"], "pack_not_found");
    // ...while the per-note confirm of the same files finds them unchanged.
    let plain = app.confirm(&dev, json!({"files": files})).await;
    assert_eq!(plain.body["confirmed"].as_array().map(Vec::len), Some(4));
    assert_eq!(versions(&pool, dev.user_id).await, 4);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_pack_whose_bytes_do_not_match_its_index_commits_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("bulk-mismatch").await;
    let contents: [&[u8]; 3] = [b"one", b"two", b"three"];
    let (mut pack, index) = pack_of(&contents);
    // The last blob's bytes are not the ones its entry names (the pack's own checksum is
    // right: S3 takes it, the server's check of each blob refuses it).
    let last = pack.len() - 1;
    pack[last] = b'X';
    let pack_id = upload_pack(&app, &dev, &pack).await;
    let files = files_of(&contents);
    let refused = app
        .bulk_confirm(
            &dev,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["code"], "pack_mismatch");
    assert_eq!(versions(&pool, dev.user_id).await, 0, "no version");
    assert_eq!(blob_rows(&pool, dev.user_id).await, 0, "no blob recorded");
    assert!(
        app.user_keys(dev.user_id).await.is_empty(),
        "no blob written"
    );
    assert!(
        !incoming_exists(&app, dev.user_id, &pack_id).await,
        "pack deleted"
    );
    assert!(app.drain_notices().await.is_empty());

    // An index longer than the pack: refused, nothing committed.
    let (pack, mut index) = pack_of(&contents);
    let pack_id = upload_pack(&app, &dev, &pack[..pack.len() - 1]).await;
    index[2]["length"] = json!(5);
    let short = app
        .bulk_confirm(
            &dev,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(short.status, 400, "{:?}", short.body);
    assert_eq!(short.body["error"]["code"], "invalid_pack_index");
    assert_eq!(versions(&pool, dev.user_id).await, 0);
    assert_eq!(blob_rows(&pool, dev.user_id).await, 0);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn only_files_with_verified_bytes_commit_and_a_stale_base_is_a_conflict(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("bulk-stale").await;
    let other = app.another_device(dev.user_id, "other").await;
    // The other device wrote n0.md first: this device's base 0 is stale.
    app.sync_up(&other, "n0.md", 0, b"theirs").await;
    let contents: [&[u8]; 2] = [b"mine", b"fresh"];
    let (pack, index) = pack_of(&contents);
    let pack_id = upload_pack(&app, &dev, &pack).await;
    let mut files = files_of(&contents);
    // A third file whose bytes are in no pack and were never uploaded.
    files
        .as_array_mut()
        .unwrap()
        .push(json!({"path": "lost.md", "base_version": 0,
        "content_hash": hex(b"never sent"), "size_bytes": 10}));
    let answer = app
        .bulk_confirm(
            &dev,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["conflicts"][0]["path"], "n0.md");
    assert_eq!(answer.body["conflicts"][0]["server_version"], 1);
    assert_eq!(answer.body["confirmed"][0]["path"], "n1.md");
    assert_eq!(answer.body["confirmed"].as_array().map(Vec::len), Some(1));
    assert_eq!(answer.body["missing"][0]["path"], "lost.md");
    assert_eq!(answer.body["missing"][0]["code"], "not_uploaded");
    // The server's n0.md is untouched.
    let pulled = app.pull(&dev, json!({"paths": ["n0.md"]})).await;
    let bytes = app.download(&pulled.body["files"][0]["download_url"]).await;
    assert_eq!(bytes, b"theirs");
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn bad_requests_are_refused_whole_with_nothing_committed(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("bulk-bad").await;
    let stranger = app.new_user_device("bulk-stranger").await;
    let contents: [&[u8]; 2] = [b"left", b"right"];
    let (pack, index) = pack_of(&contents);
    let files = files_of(&contents);

    // Starts: a size out of range, a bad hash.
    for (body, code) in [
        (
            json!({"content_hash": hex(&pack), "size_bytes": 0}),
            "invalid_size",
        ),
        (
            json!({"content_hash": hex(&pack), "size_bytes": 64 * 1024 * 1024 + 1}),
            "invalid_size",
        ),
        (
            json!({"content_hash": "abc", "size_bytes": 5}),
            "invalid_content_hash",
        ),
        (
            json!({"content_hash": hex(&pack), "size_bytes": "5"}),
            "invalid_type",
        ),
        (
            json!({"content_hash": hex(&pack), "size_bytes": 1e30}),
            "invalid_type",
        ),
    ] {
        let got = app.bulk(&dev, body.clone()).await;
        assert_eq!(got.status, 400, "{body}: {:?}", got.body);
        assert_eq!(got.body["error"]["code"], code, "{body}");
    }

    // Never uploaded: 409, nothing committed; the pack stays open for its upload.
    let started = app
        .bulk(
            &dev,
            json!({"content_hash": hex(&pack), "size_bytes": pack.len()}),
        )
        .await;
    let pack_id = started.body["pack_id"].as_str().unwrap().to_owned();
    let body = json!({"pack_id": pack_id, "blobs": index, "files": files});
    let got = app.bulk_confirm(&dev, body.clone()).await;
    assert_eq!(got.status, 409, "{:?}", got.body);
    assert_eq!(got.body["error"]["code"], "pack_not_uploaded");
    // The PUT accepts only the announced bytes.
    let mut other = pack.clone();
    other[0] ^= 1;
    let put = app.upload(&started.body, &other).await;
    assert!(put.status().is_client_error(), "PUT {}", put.status());
    // Another account's pack: not found for the stranger, whatever its bytes.
    assert!(app.upload(&started.body, &pack).await.status().is_success());
    let got = app.bulk_confirm(&stranger, body.clone()).await;
    assert_eq!(got.status, 404, "{:?}", got.body);
    assert_eq!(got.body["error"]["code"], "pack_not_found");
    // Unknown and malformed ids.
    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let got = app
            .bulk_confirm(&dev, json!({"pack_id": id, "blobs": index, "files": files}))
            .await;
        assert_eq!(got.status, 404, "{:?}", got.body);
    }
    // Indexes that do not describe a pack.
    let entry = |h: &[u8], offset: i64, length: i64| json!({"content_hash": hex(h), "offset": offset, "length": length});
    let too_many: Vec<Value> = (0..1001u32)
        .map(|i| entry(&i.to_le_bytes(), 0, 0))
        .collect();
    for (what, blobs, code) in [
        (
            "overlap",
            json!([entry(b"left", 0, 4), entry(b"right", 3, 5)]),
            "invalid_pack_index",
        ),
        (
            "gap",
            json!([entry(b"left", 0, 4), entry(b"right", 5, 5)]),
            "invalid_pack_index",
        ),
        (
            "out of bounds",
            json!([entry(b"left", 0, 4), entry(b"right", 4, 6)]),
            "invalid_pack_index",
        ),
        (
            "overflowing",
            json!([entry(b"left", 0, 4), entry(b"right", 4, i64::MAX)]),
            "invalid_pack_index",
        ),
        (
            "negative",
            json!([entry(b"left", 0, -4)]),
            "invalid_pack_index",
        ),
        ("empty", json!([]), "invalid_pack_index"),
        ("too many", Value::Array(too_many), "invalid_pack_index"),
        (
            "a number past i64",
            json!([{"content_hash": hex(b"left"), "offset": 0, "length": 1e30}]),
            "invalid_type",
        ),
    ] {
        let got = app
            .bulk_confirm(
                &dev,
                json!({"pack_id": pack_id, "blobs": blobs, "files": files}),
            )
            .await;
        assert_eq!(got.status, 400, "{what}: {:?}", got.body);
        assert_eq!(got.body["error"]["code"], code, "{what}");
    }
    assert_eq!(versions(&pool, dev.user_id).await, 0);
    assert_eq!(blob_rows(&pool, dev.user_id).await, 0);
    // The pack is still open: the right index commits it.
    let got = app.bulk_confirm(&dev, body).await;
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(got.body["confirmed"].as_array().map(Vec::len), Some(2));
    assert_eq!(versions(&pool, stranger.user_id).await, 0);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn batch_after_batch_each_pack_commits(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("bulk-batches").await;
    for round in 0..8u32 {
        let owned: Vec<Vec<u8>> = (0..200u32)
            .map(|i| format!("round {round} note {i}").into_bytes())
            .collect();
        let contents: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        let files: Value = Value::Array(
            contents
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({"path": format!("r{round}/n{i}.md"), "base_version": 0,
                           "content_hash": hex(c), "size_bytes": c.len()})
                })
                .collect(),
        );
        let pushed = app.push(&dev, json!({"files": files})).await;
        assert_eq!(pushed.status, 200, "{:?}", pushed.body);
        let (pack, index) = pack_of(&contents);
        let pack_id = upload_pack(&app, &dev, &pack).await;
        let confirmed = app
            .bulk_confirm(
                &dev,
                json!({"pack_id": pack_id, "blobs": index, "files": files}),
            )
            .await;
        assert_eq!(confirmed.status, 200, "round {round}: {:?}", confirmed.body);
        assert_eq!(
            confirmed.body["confirmed"].as_array().map(Vec::len),
            Some(200)
        );
    }
}

/// `presign=false`: each upload the server needs comes without a URL and `deferred: true`,
/// no upload grant is recorded, and the pack's bulk confirm commits them as after any push.
#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_push_with_presign_false_defers_its_uploads_and_grants_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("bulk-deferred").await;
    app.sync_up(&dev, "held.md", 0, b"held").await;
    let contents: [&[u8]; 3] = [b"held", b"new one", b"new two"];
    let files = files_of(&contents);
    let new_hashes = [hex(contents[1]), hex(contents[2])];
    let grants = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM upload_grants WHERE user_id = $1 AND content_hash = ANY($2)",
        )
        .bind(dev.user_id)
        .bind(&new_hashes[..])
        .fetch_one(&pool)
        .await
        .expect("grants")
    };
    assert_eq!(grants().await, 0);

    let pushed = app
        .push_query(&dev, &[("presign", "false")], json!({"files": files}))
        .await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let uploads = pushed.body["uploads"].as_array().expect("uploads").clone();
    assert_eq!(uploads.len(), 3, "{uploads:?}");
    // The held bytes: no URL and not deferred (confirm straight away), as without it.
    assert_eq!(uploads[0]["upload_url"], Value::Null);
    assert!(uploads[0].get("deferred").is_none(), "{:?}", uploads[0]);
    for u in &uploads[1..] {
        assert_eq!(u["upload_url"], Value::Null, "{u:?}");
        assert_eq!(u["deferred"], json!(true), "{u:?}");
        for absent in ["method", "headers", "expires_at"] {
            assert!(u.get(absent).is_none(), "{absent}: {u:?}");
        }
    }
    assert_eq!(grants().await, 0, "no URL, no grant");

    // The same push with presign=true (or without it): URLs, no `deferred`, grants recorded.
    let presigned = app
        .push_query(&dev, &[("presign", "true")], json!({"files": files}))
        .await;
    assert_eq!(presigned.status, 200, "{:?}", presigned.body);
    for u in &presigned.body["uploads"].as_array().expect("uploads")[1..] {
        assert!(u["upload_url"].is_string(), "{u:?}");
        assert!(u.get("deferred").is_none(), "{u:?}");
    }
    assert_eq!(grants().await, 2);

    // The deferred notes go up in one pack and commit.
    let (pack, index) = pack_of(&contents[1..]);
    let pack_id = upload_pack(&app, &dev, &pack).await;
    let files = Value::Array(files.as_array().expect("files")[1..].to_vec());
    let confirmed = app
        .bulk_confirm(
            &dev,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(
        confirmed.body["confirmed"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(versions(&pool, dev.user_id).await, 3);

    // Any other value: 400, nothing handed out.
    for bad in ["", "FALSE", "0", "no"] {
        let refused = app
            .push_query(&dev, &[("presign", bad)], json!({"files": files}))
            .await;
        assert_eq!(refused.status, 400, "{bad:?}: {:?}", refused.body);
        assert_eq!(refused.body["error"]["code"], "invalid_request");
    }
}
