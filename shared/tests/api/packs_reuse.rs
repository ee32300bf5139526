//! Packs handed out again (`POST /vault/packs` answered from live packs) against the real
//! services: a bulk upload's incoming pack, once confirmed with every blob new, is kept as
//! a read pack and answers a later packs request without a blob read from the bucket; a
//! pack is handed out only when every blob of it was asked for, only while enough of its
//! lifetime is left, and never after one of its blobs was collected; a pack built for one
//! request answers the next.

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{ContentHash, UserId};
use steel_core::janitor;
use steel_core::packs;
use steel_core::storage::blob_key;

use crate::bulk::{pack_of, upload_pack};
use crate::janitor::janitor_for;
use crate::packs::{collect, pack_get_status, pack_objects, pack_rows, packs_of, unpack};
use crate::support::{TestApp, TestDevice};

fn hex(bytes: &[u8]) -> String {
    ContentHash::of(bytes).to_hex()
}

/// New notes `b{i}.md` of `contents` up through one bulk upload, asserting every one is
/// confirmed; the pack id and the versions.
async fn bulk_up(app: &TestApp, dev: &TestDevice, contents: &[&[u8]]) -> (String, Vec<i64>) {
    let files: Vec<Value> = (contents.iter().enumerate())
        .map(|(i, c)| {
            json!({"path": format!("b{i}.md"), "base_version": 0,
                   "content_hash": hex(c), "size_bytes": c.len()})
        })
        .collect();
    let pushed = app.push(dev, json!({ "files": files })).await;
    assert_eq!(pushed.status, 200, "{:?}", pushed.body);
    let (pack, index) = pack_of(contents);
    let pack_id = upload_pack(app, dev, &pack).await;
    let confirmed = app
        .bulk_confirm(
            dev,
            json!({"pack_id": pack_id, "blobs": index, "files": files}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let versions: Vec<i64> = (confirmed.body["confirmed"].as_array().expect("confirmed"))
        .iter()
        .map(|v| v["version"].as_i64().expect("version"))
        .collect();
    assert_eq!(versions.len(), contents.len(), "{:?}", confirmed.body);
    (pack_id, versions)
}

/// The object key a presigned pack URL names (its path, without the signature).
fn url_path(url: &Value) -> String {
    let url = url.as_str().expect("URL");
    url.split('?').next().unwrap_or(url).to_owned()
}

fn is_pack(url: &Value, user: UserId, pack_id: &str) -> bool {
    url_path(url).ends_with(&format!("packs/{user}/{pack_id}"))
}

/// Puts `bytes` under `key`, or deletes the object, behind the backend's back.
async fn set_object(app: &TestApp, key: String, bytes: Option<&[u8]>) {
    let bucket = app.s3.clone();
    match bytes {
        Some(b) => {
            let put = bucket.put_object().bucket(&app.bucket).key(key);
            put.body(b.to_vec().into()).send().await.expect("put");
        }
        None => {
            let delete = bucket.delete_object().bucket(&app.bucket).key(key);
            delete.send().await.expect("delete");
        }
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_bulk_uploads_pack_answers_packs_requests_without_a_blob_read(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("reuse-bulk").await;
    let user = dev.user_id;
    let contents: [&[u8]; 4] = [b"alpha", b"beta beta", b"", b"delta"];
    let (pack_id, _) = bulk_up(&app, &dev, &contents).await;
    assert_eq!(pack_rows(&pool, user).await, 1, "the incoming pack is kept");
    assert_eq!(pack_objects(&app, user).await, 1);
    app.sync_up(&dev, "extra.md", 0, b"extra").await;
    // Behind the backend's back the bulk blobs' objects go: a pack built now could not
    // hold them, so whatever brings them back was not read from their keys.
    for c in contents {
        set_object(&app, blob_key(user, &ContentHash::of(c)), None).await;
    }
    let mut asked: Vec<&[u8]> = contents.to_vec();
    asked.push(b"extra");
    let answer = packs_of(&app, &dev, &asked).await;
    let listed = answer["packs"].as_array().expect("packs").clone();
    assert_eq!(listed.len(), 2, "{answer:?}");
    assert!(
        is_pack(&listed[0]["download_url"], user, &pack_id),
        "{answer:?}"
    );
    assert_eq!(listed[0]["blobs"].as_array().map(Vec::len), Some(4));
    assert_eq!(listed[1]["blobs"][0]["content_hash"], json!(hex(b"extra")));
    assert_eq!(answer["unpacked"], json!([]));
    assert_eq!(answer["remaining"], json!([]));
    let got = unpack(&app, &answer).await;
    assert_eq!(got.len(), 5, "each blob once");
    for (hash, bytes) in &got {
        assert_eq!(&hex(bytes), hash, "the index locates the blob's bytes");
    }
    assert_eq!(
        pack_rows(&pool, user).await,
        2,
        "one pack built, for `extra`"
    );

    // Asked again: both packs handed out again, nothing built.
    let again = packs_of(&app, &dev, &asked).await;
    let urls = |a: &Value| -> Vec<String> {
        let mut out: Vec<String> = (a["packs"].as_array().expect("packs").iter())
            .map(|p| url_path(&p["download_url"]))
            .collect();
        out.sort();
        out
    };
    assert_eq!(urls(&again), urls(&answer));
    assert_eq!(pack_rows(&pool, user).await, 2);
    assert_eq!(pack_objects(&app, user).await, 2);

    // Half of the kept pack asked for: it is not handed out (it would bring bytes not
    // asked for); a pack of those two is built from their keys.
    for c in &contents[..2] {
        set_object(&app, blob_key(user, &ContentHash::of(c)), Some(*c)).await;
    }
    let part = packs_of(&app, &dev, &contents[..2]).await;
    let listed = part["packs"].as_array().expect("packs");
    assert_eq!(listed.len(), 1, "{part:?}");
    assert!(!is_pack(&listed[0]["download_url"], user, &pack_id));
    assert_eq!(unpack(&app, &part).await.len(), 2);
    assert_eq!(pack_rows(&pool, user).await, 3);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_bulk_pack_with_a_blob_the_account_held_is_not_kept(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("reuse-not-new").await;
    app.sync_up(&dev, "known.md", 0, b"known").await;
    bulk_up(&app, &dev, &[b"known", b"new"]).await;
    assert_eq!(pack_rows(&pool, dev.user_id).await, 0);
    assert_eq!(pack_objects(&app, dev.user_id).await, 0);
    // Asked for, the two come in a pack built as before.
    let answer = packs_of(&app, &dev, &[b"known", b"new"]).await;
    assert_eq!(unpack(&app, &answer).await.len(), 2);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_kept_pack_is_handed_out_while_enough_of_its_hour_is_left(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("reuse-expiry").await;
    let user = dev.user_id;
    let contents: [&[u8]; 3] = [b"one", b"two", b"three"];
    let (pack_id, _) = bulk_up(&app, &dev, &contents).await;
    let wanted: Vec<ContentHash> = contents.iter().map(|c| ContentHash::of(c)).collect();
    let now = Utc::now();
    let answer = |minutes| {
        packs::answer(
            &app.db,
            app.storage(),
            user,
            &wanted,
            now + TimeDelta::minutes(minutes),
        )
    };
    let url = |a: &steel_protocol::wire::PacksAnswer| json!(a.packs[0].download_url);
    let early = answer(44).await.expect("answer");
    assert_eq!(early.packs.len(), 1);
    assert!(is_pack(&url(&early), user, &pack_id), "44 minutes in: kept");
    assert_eq!(pack_rows(&pool, user).await, 1, "nothing built");
    let late = answer(46).await.expect("answer");
    assert_eq!(late.packs.len(), 1);
    assert!(
        !is_pack(&url(&late), user, &pack_id),
        "46 minutes in: built"
    );
    assert_eq!(pack_rows(&pool, user).await, 2);
    // Both go at the end of their hour.
    let janitor = janitor_for(&app, user);
    let expired = janitor::expire_packs(&janitor, now + TimeDelta::minutes(61))
        .await
        .expect("expire");
    assert_eq!(expired, 2);
    assert_eq!(pack_objects(&app, user).await, 0);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_kept_pack_is_never_served_after_one_of_its_blobs_is_collected(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("reuse-collected").await;
    let user = dev.user_id;
    let (pack_id, versions) = bulk_up(&app, &dev, &[b"old", b"other"]).await;
    let first = packs_of(&app, &dev, &[b"old", b"other"]).await;
    let url = first["packs"][0]["download_url"].clone();
    assert!(is_pack(&url, user, &pack_id));
    // `old` leaves the history and is collected: the kept pack goes with it.
    app.sync_up(&dev, "b0.md", versions[0], b"new").await;
    let janitor = janitor_for(&app, user);
    assert_eq!(collect(&janitor, 3650).await, 1);
    assert_eq!(
        pack_get_status(&app, &url).await,
        404,
        "the kept pack went with its collected blob"
    );
    assert_eq!(pack_rows(&pool, user).await, 0);
    let after = packs_of(&app, &dev, &[b"new", b"other"]).await;
    let listed = after["packs"].as_array().expect("packs");
    assert_eq!(listed.len(), 1);
    assert!(!is_pack(&listed[0]["download_url"], user, &pack_id));
    let mut got = unpack(&app, &after).await;
    got.sort();
    let mut expect = vec![
        (hex(b"new"), b"new".to_vec()),
        (hex(b"other"), b"other".to_vec()),
    ];
    expect.sort();
    assert_eq!(got, expect);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_pack_built_for_one_request_answers_the_next(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("reuse-built").await;
    for (i, c) in [&b"a"[..], b"bb", b"ccc"].iter().enumerate() {
        app.sync_up(&dev, &format!("n{i}.md"), 0, c).await;
    }
    let first = packs_of(&app, &dev, &[b"a", b"bb"]).await;
    assert_eq!(pack_rows(&pool, dev.user_id).await, 1);
    // A superset: the built pack again, and one of the rest.
    let second = packs_of(&app, &dev, &[b"ccc", b"bb", b"a"]).await;
    let listed = second["packs"].as_array().expect("packs");
    assert_eq!(listed.len(), 2, "{second:?}");
    assert_eq!(
        url_path(&listed[0]["download_url"]),
        url_path(&first["packs"][0]["download_url"])
    );
    assert_eq!(listed[1]["blobs"][0]["content_hash"], json!(hex(b"ccc")));
    assert_eq!(unpack(&app, &second).await.len(), 3);
    assert_eq!(pack_rows(&pool, dev.user_id).await, 2);
}
