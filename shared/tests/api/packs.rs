//! `POST /vault/packs` against the real services: blobs come back in packs whose index
//! locates each one; a blob whose bytes do not match its hash is never packed; a blob the
//! janitor collects while its pack is built, or after, is never served from it; packs
//! expire; bad requests are refused whole.

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{ContentHash, UserId};
use steel_core::janitor;
use steel_core::packs;
use steel_core::runtime::JanitorState;

use crate::janitor::janitor_for;
use crate::support::{TestApp, TestDevice};

fn hex(bytes: &[u8]) -> String {
    ContentHash::of(bytes).to_hex()
}

/// A packs request for the hashes of `contents`, asserting a 200.
pub(crate) async fn packs_of(app: &TestApp, dev: &TestDevice, contents: &[&[u8]]) -> Value {
    let hashes: Vec<String> = contents.iter().map(|c| hex(c)).collect();
    let answer = app.packs(dev, json!({ "hashes": hashes })).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// The status a GET of a pack's `url` answers (404 once the pack object was deleted).
pub(crate) async fn pack_get_status(app: &TestApp, url: &Value) -> u16 {
    let url = url.as_str().expect("download_url");
    let answer = app.http.get(url).send().await.expect("GET");
    answer.status().as_u16()
}

/// Every blob of every pack of `answer`, downloaded and cut out along the index.
pub(crate) async fn unpack(app: &TestApp, answer: &Value) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for pack in answer["packs"].as_array().expect("packs") {
        let bytes = app.download(&pack["download_url"]).await;
        assert_eq!(Some(bytes.len() as u64), pack["size_bytes"].as_u64());
        for blob in pack["blobs"].as_array().expect("blobs") {
            let at = blob["offset"].as_u64().expect("offset") as usize;
            let len = blob["length"].as_u64().expect("length") as usize;
            let hash = blob["content_hash"].as_str().expect("hash").to_owned();
            out.push((hash, bytes[at..at + len].to_vec()));
        }
    }
    out
}

pub(crate) fn hashes(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|h| h.as_str().expect("hash").to_owned())
        .collect();
    out.sort();
    out
}

pub(crate) async fn pack_rows(pool: &PgPool, user: UserId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM packs WHERE user_id = $1")
        .bind(user)
        .fetch_one(pool)
        .await
        .expect("count packs")
}

/// The pack objects the bucket holds for `user`.
pub(crate) async fn pack_objects(app: &TestApp, user: UserId) -> usize {
    let listed = app
        .s3
        .list_objects_v2()
        .bucket(&app.bucket)
        .prefix(format!("packs/{user}/"))
        .send()
        .await
        .expect("list packs");
    listed.contents().len()
}

/// The history pass and the collection pass, `days` ahead: an old version's blob goes.
pub(crate) async fn collect(state: &JanitorState, days: i64) -> u64 {
    let now = Utc::now() + TimeDelta::days(days);
    let lifecycle = &state.app.config.lifecycle;
    while janitor::prune_history_batch(state, now, lifecycle)
        .await
        .expect("prune")
        .last
        .is_some()
    {}
    let mut collected = 0;
    loop {
        let (n, done) = janitor::collect_blobs(state, now, lifecycle)
            .await
            .expect("collect");
        collected += n;
        if done {
            return collected;
        }
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_vault_comes_back_in_a_pack_whose_index_locates_every_blob(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("packs-basic").await;
    let contents: [&[u8]; 4] = [b"alpha", b"beta beta", b"c", b"delta"];
    for (i, c) in contents.iter().enumerate() {
        app.sync_up(&dev, &format!("n{i}.md"), 0, c).await;
    }
    // A repeat, and a hash that is no content of this vault.
    let mut asked: Vec<&[u8]> = contents.to_vec();
    asked.push(b"alpha");
    asked.push(b"someone else's");
    let answer = packs_of(&app, &dev, &asked).await;
    assert_eq!(answer["packs"].as_array().map(Vec::len), Some(1));
    assert_eq!(hashes(&answer["unpacked"]), vec![hex(b"someone else's")]);
    assert_eq!(hashes(&answer["remaining"]), Vec::<String>::new());
    let got = unpack(&app, &answer).await;
    assert_eq!(got.len(), 4, "each blob once");
    for (hash, bytes) in &got {
        assert_eq!(&hex(bytes), hash, "the index locates the blob's bytes");
    }
    // A Range GET of one blob works on the same URL (it is not part of the signature).
    let pack = &answer["packs"][0];
    let blob = &pack["blobs"][1];
    let (at, len) = (
        blob["offset"].as_u64().unwrap(),
        blob["length"].as_u64().unwrap(),
    );
    let ranged = app
        .http
        .get(pack["download_url"].as_str().unwrap())
        .header("range", format!("bytes={at}-{}", at + len - 1))
        .send()
        .await
        .expect("ranged GET");
    assert_eq!(ranged.status(), 206);
    let part = ranged.bytes().await.expect("bytes");
    assert_eq!(hex(&part), blob["content_hash"].as_str().unwrap());
    // Packs never count as stored bytes, and live under their own prefix.
    assert!(
        app.user_keys(dev.user_id)
            .await
            .iter()
            .all(|k| !k.contains("pack"))
    );
    let account = app.account(&dev).await;
    assert_eq!(
        account.body["stored_bytes"].as_u64(),
        Some(contents.iter().map(|c| c.len() as u64).sum()),
        "{:?}",
        account.body
    );
    assert_eq!(pack_objects(&app, dev.user_id).await, 1);
    // Another user cannot have this vault's blobs packed.
    let other = app.new_user_device("packs-other").await;
    let theirs = packs_of(&app, &other, &contents).await;
    assert!(theirs["packs"].as_array().unwrap().is_empty());
    assert_eq!(theirs["unpacked"].as_array().map(Vec::len), Some(4));
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_blob_whose_bytes_do_not_match_its_hash_is_never_packed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dev = app.new_user_device("packs-corrupt").await;
    app.sync_up(&dev, "good.md", 0, b"good bytes").await;
    app.sync_up(&dev, "bad.md", 0, b"bytes to corrupt").await;
    // Behind the backend's back: other bytes under the blob's key.
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(steel_core::storage::blob_key(
            dev.user_id,
            &ContentHash::of(b"bytes to corrupt"),
        ))
        .body(b"rotten".to_vec().into())
        .send()
        .await
        .expect("overwrite");
    let answer = packs_of(&app, &dev, &[b"good bytes", b"bytes to corrupt"]).await;
    assert_eq!(hashes(&answer["unpacked"]), vec![hex(b"bytes to corrupt")]);
    let got = unpack(&app, &answer).await;
    assert_eq!(got, vec![(hex(b"good bytes"), b"good bytes".to_vec())]);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_blob_collected_while_its_pack_is_built_is_never_served_from_it(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("packs-race").await;
    let janitor = janitor_for(&app, dev.user_id);
    let v1 = app.sync_up(&dev, "n.md", 0, b"old").await;
    app.sync_up(&dev, "n.md", v1, b"new").await;
    app.sync_up(&dev, "other.md", 0, b"other").await;
    let sized = |b: &[u8]| (ContentHash::of(b), b.len() as i64);

    // The pack is recorded, then the old version is pruned and its blob collected before
    // the pack is written: the collection deletes the pack, which is then not served.
    let planned = [sized(b"old"), sized(b"new"), sized(b"other")];
    let reserved = packs::reserve(&app.db, dev.user_id, &planned)
        .await
        .expect("reserve");
    assert!(reserved.lost.is_empty());
    assert_eq!(collect(&janitor, 3650).await, 1);
    let built = packs::finish(&app.db, app.storage(), dev.user_id, reserved)
        .await
        .expect("finish");
    assert!(
        built.pack.is_none(),
        "a pack holding a collected blob is not served"
    );
    assert_eq!(built.unpacked, vec![ContentHash::of(b"old")]);
    let mut remaining = built.remaining.clone();
    remaining.sort();
    let mut expect = vec![ContentHash::of(b"new"), ContentHash::of(b"other")];
    expect.sort();
    assert_eq!(remaining, expect, "the others are to be asked for again");
    assert_eq!(
        pack_objects(&app, dev.user_id).await,
        0,
        "the written pack went"
    );
    assert_eq!(pack_rows(&pool, dev.user_id).await, 0);

    // Collected before the pack is recorded: left out of it.
    let v3 = app.sync_up(&dev, "n.md", v1 + 1, b"newer").await;
    let planned = [sized(b"new"), sized(b"newer")];
    let held = steel_core::db::packs::in_use(&app.db, dev.user_id, &[planned[0].0])
        .await
        .expect("in use");
    assert_eq!(held.len(), 1, "the version before is still in the history");
    assert_eq!(collect(&janitor, 3650).await, 1);
    let reserved = packs::reserve(&app.db, dev.user_id, &planned)
        .await
        .expect("reserve");
    assert_eq!(reserved.lost, vec![ContentHash::of(b"new")]);
    let built = packs::finish(&app.db, app.storage(), dev.user_id, reserved)
        .await
        .expect("finish");
    let pack = built.pack.expect("the rest is served");
    assert_eq!(pack.blobs.len(), 1);
    assert_eq!(pack.blobs[0].content_hash, ContentHash::of(b"newer"));
    assert!(v3 > v1);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_served_pack_goes_with_its_collected_blob_and_at_the_end_of_its_life(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("packs-after").await;
    let janitor = janitor_for(&app, dev.user_id);
    let v1 = app.sync_up(&dev, "n.md", 0, b"old").await;
    app.sync_up(&dev, "n.md", v1, b"new").await;
    let answer = packs_of(&app, &dev, &[b"old", b"new"]).await;
    let url = answer["packs"][0]["download_url"].clone();
    assert_eq!(unpack(&app, &answer).await.len(), 2);
    assert_eq!(collect(&janitor, 3650).await, 1);
    assert_eq!(
        pack_get_status(&app, &url).await,
        404,
        "the pack went with its collected blob"
    );
    assert_eq!(pack_rows(&pool, dev.user_id).await, 0);

    // A pack of the current blob lives an hour.
    let answer = packs_of(&app, &dev, &[b"new"]).await;
    assert_eq!(answer["packs"].as_array().map(Vec::len), Some(1));
    let lifetime = packs::PACK_LIFETIME.num_minutes();
    let early = janitor::expire_packs(&janitor, Utc::now() + TimeDelta::minutes(lifetime - 5))
        .await
        .expect("expire");
    assert_eq!(early, 0);
    let late = janitor::expire_packs(&janitor, Utc::now() + TimeDelta::minutes(lifetime + 1))
        .await
        .expect("expire");
    assert_eq!(late, 1);
    assert_eq!(pack_objects(&app, dev.user_id).await, 0);
    assert_eq!(pack_rows(&pool, dev.user_id).await, 0);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn a_bad_packs_request_is_refused_whole(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("packs-bad").await;
    app.sync_up(&dev, "n.md", 0, b"n").await;
    let good = hex(b"n");
    let too_many = vec![good.clone(); packs::MAX_HASHES_PER_PACKS_REQUEST + 1];
    let cases: Vec<(&str, Value, i64, &str)> = vec![
        ("no hashes field", json!({}), 400, "missing_field"),
        ("not a list", json!({"hashes": "x"}), 400, "invalid_type"),
        (
            "a bad hash",
            json!({"hashes": [good, "zz"]}),
            400,
            "invalid_content_hash",
        ),
        (
            "upper case",
            json!({"hashes": [good.to_uppercase()]}),
            400,
            "invalid_content_hash",
        ),
        (
            "too many",
            json!({ "hashes": too_many }),
            400,
            "too_many_files",
        ),
    ];
    for (what, body, status, code) in cases {
        let answer = app.packs(&dev, body).await;
        assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
        assert_eq!(answer.code(), code, "{what}");
    }
    assert_eq!(pack_rows(&pool, dev.user_id).await, 0, "nothing was built");
    let anonymous = app
        .packs(&crate::support::Anonymous, json!({"hashes": []}))
        .await;
    assert_eq!(anonymous.status, 401);
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn deleting_the_account_purges_its_packs(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let dev = app.new_user_device("packs-purge").await;
    app.sync_up(&dev, "n.md", 0, b"n").await;
    packs_of(&app, &dev, &[b"n"]).await;
    assert_eq!(pack_objects(&app, dev.user_id).await, 1);
    let deleted = app.delete_account(&dev, json!({"confirm": "DELETE"})).await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(deleted.body["purge_complete"], json!(true));
    assert_eq!(pack_objects(&app, dev.user_id).await, 0);
    assert_eq!(pack_rows(&pool, dev.user_id).await, 0);
}
