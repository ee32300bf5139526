//! The simulation's model against the real handlers while a plaintext vault turns
//! encrypted (`/vault/migration`): the same requests go to both, and every answer must be
//! the same (URLs, expiries and timestamps aside, as in `model_diff.rs`). One run: the
//! status and a stage and a switch before any migration, the start (and its retry), a
//! stage of one current, one stale and one malformed copy, its uploads and the stage again,
//! a switch refused while notes are missing, a plaintext edit while migrating (its staged
//! copy then stale), the rest staged, the switch, a second switch, the keys, the status and
//! the encrypted listing after it, a plaintext push and an abandon refused. Another run:
//! the start, one note staged, the abandon, a stage after it, a plaintext push, a new
//! start from `"v0"`.

use aws_lambda_events::http::HeaderValue;
use serde_json::{Value, json};
use steel_core::domain::ContentHash;
use steel_sim::model::Server;

use super::encrypted::{Vault, slots_body};
use super::entry;
use super::model_diff::normal;
use crate::support::events::event;
use crate::support::routes::Route;
use crate::support::{TestApp, TestDevice};

struct Pair<'a> {
    app: &'a TestApp,
    dev: TestDevice,
    model: Server,
    vault: Vault,
    label: &'static str,
    step: usize,
}

impl Pair<'_> {
    fn model(&mut self, method: &str, route: &str, tag: Option<&str>, body: &Value) -> Value {
        self.model.now = chrono::Utc::now();
        let bytes = match body {
            Value::Null => Vec::new(),
            b => serde_json::to_vec(b).expect("JSON"),
        };
        let a = (self.model).handle_with(Some(self.dev.device_id), method, route, tag, &bytes);
        let body: Value = serde_json::from_slice(&a.body).expect("model JSON");
        json!({"status": a.status, "body": body})
    }

    /// Sends one request to both; their answers must be the same. The real one's body.
    async fn both(&mut self, what: &str, route: Route, tag: Option<&str>, body: Value) -> Value {
        self.step += 1;
        let (method, path) = (route.method(), route.template());
        let mut e = event(
            route,
            &[],
            Some(&self.dev.token),
            (!body.is_null()).then_some(&body),
        );
        if let Some(t) = tag {
            e.headers
                .insert("if-match", HeaderValue::from_str(t).expect("header"));
        }
        let real = Box::pin(self.app.send(e)).await;
        let model = self.model(method, path, tag, &body);
        let real_v = json!({"status": real.status, "body": real.body});
        let (r, m) = (normal(&real_v), normal(&model));
        assert_eq!(
            r, m,
            "{}, step {} ({what}): the model answered differently",
            self.label, self.step
        );
        real.body
    }

    /// A plaintext push of `files`, its uploads and its confirm, on both.
    async fn push(&mut self, files: &[(&str, i64, &[u8])]) {
        let body =
            json!({"files": files.iter().map(|(p, b, c)| entry(p, *b, c)).collect::<Vec<_>>()});
        let answer = self.both("push", Route::Push, None, body.clone()).await;
        for up in answer["uploads"].as_array().cloned().unwrap_or_default() {
            let Some((.., bytes)) = (files.iter())
                .find(|(.., c)| json!(ContentHash::of(c).to_hex()) == up["content_hash"])
            else {
                continue;
            };
            if up["upload_url"].is_null() {
                continue;
            }
            let put = self.app.upload(&up, bytes).await;
            assert!(put.status().is_success(), "PUT {}", put.status());
            self.model
                .bucket
                .insert(ContentHash::of(bytes), bytes.to_vec());
        }
        if answer["uploads"].as_array().is_some_and(|u| !u.is_empty()) {
            self.both("confirm", Route::Confirm, None, body).await;
        }
    }

    /// The stage entry of the encrypted copy of `path` at plaintext `version`.
    fn copy(&self, path: &str, version: i64, content: &[u8], seed: u8) -> (Value, Vec<u8>) {
        let blob = self.vault.blob(content, seed);
        let mut e = (self.vault).confirm_entry(path, 0, version, &blob, content.len() as u64);
        let o = e.as_object_mut().expect("object");
        o.remove("base_version");
        o.insert("path".into(), json!(path));
        o.insert("version".into(), json!(version));
        (e, blob.bytes)
    }

    /// Stages `copies` on both, uploads what the first answer asks for, and stages again.
    async fn stage(&mut self, copies: &[(Value, Vec<u8>)]) {
        let body = json!({"files": copies.iter().map(|c| c.0.clone()).collect::<Vec<_>>()});
        let first = self
            .both("stage", Route::StageMigration, None, body.clone())
            .await;
        let uploads = first["uploads"].as_array().cloned().unwrap_or_default();
        for up in &uploads {
            let (_, bytes) = (copies.iter())
                .find(|c| c.0["path"] == up["path"])
                .expect("an upload of a staged note");
            let put = self.app.upload(up, bytes).await;
            assert!(put.status().is_success(), "PUT {}", put.status());
            self.model
                .bucket
                .insert(ContentHash::of(bytes), bytes.clone());
        }
        if !uploads.is_empty() {
            self.both("stage again", Route::StageMigration, None, body)
                .await;
        }
    }

    async fn status(&mut self) -> Value {
        self.both("status", Route::Migration, None, Value::Null)
            .await
    }

    async fn start(&mut self) -> Value {
        self.both("start", Route::StartMigration, Some("\"v0\""), slots_body())
            .await
    }
}

async fn pair<'a>(app: &'a TestApp, sub: &str, label: &'static str) -> Pair<'a> {
    Pair {
        app,
        dev: app.new_user_device(sub).await,
        model: Server::new(chrono::Utc::now()),
        vault: Vault::new(),
        label,
        step: 0,
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_simulation_model_migrates_a_vault_as_the_handlers_do(pool: sqlx::PgPool) {
    let app = TestApp::builder(pool).spawn().await;
    let mut p = pair(&app, "migrating", "the switch").await;
    p.push(&[
        ("notes/a.md", 0, b"alpha"),
        ("notes/b.md", 0, b"beta"),
        ("other/c.md", 0, b"gamma"),
        ("notes/gone.md", 0, b"going"),
    ])
    .await;
    let gone = json!({"files": [{"path": "notes/gone.md", "base_version": 1}]});
    p.both("delete", Route::Delete, None, gone).await;
    assert_eq!(p.status().await["mode"], "plaintext");
    let a1 = p.copy("notes/a.md", 1, b"alpha", 1);
    p.both(
        "stage before a start",
        Route::StageMigration,
        None,
        json!({"files": [a1.0]}),
    )
    .await;
    p.both(
        "switch before a start",
        Route::SwitchMigration,
        None,
        Value::Null,
    )
    .await;
    for _ in 0..2 {
        p.start().await;
    }
    p.both("keys while migrating", Route::Keys, None, Value::Null)
        .await;
    assert_eq!(
        p.status().await["missing"].as_array().map(Vec::len),
        Some(3)
    );
    let mut bad = p.copy("other/c.md", 1, b"gamma", 3);
    bad.0["path_key"] = json!("not a key");
    let b_stale = p.copy("notes/b.md", 2, b"beta", 2);
    p.stage(&[a1.clone(), b_stale, bad]).await;
    let refused = p
        .both(
            "switch, notes missing",
            Route::SwitchMigration,
            None,
            Value::Null,
        )
        .await;
    assert_eq!(refused["error"]["code"], "migration_incomplete");
    // A plaintext edit while migrating: a's staged copy is stale from then on.
    p.push(&[("notes/a.md", 1, b"alpha, edited")]).await;
    assert_eq!(p.status().await["staged"], 0);
    let rest = [
        p.copy("notes/a.md", 2, b"alpha, edited", 4),
        p.copy("notes/b.md", 1, b"beta", 5),
        p.copy("other/c.md", 1, b"gamma", 6),
    ];
    p.stage(&rest).await;
    assert_eq!(p.status().await["staged"], 3);
    let done = p
        .both("switch", Route::SwitchMigration, None, Value::Null)
        .await;
    assert_eq!(done["notes"], 3, "{done}");
    let again = p
        .both("switch again", Route::SwitchMigration, None, Value::Null)
        .await;
    assert_eq!(again["error"]["code"], "vault_encrypted");
    p.both("keys after", Route::Keys, None, Value::Null).await;
    assert_eq!(p.status().await["mode"], "encrypted");
    let listing = p.both("state after", Route::State, None, Value::Null).await;
    assert_eq!(listing["encrypted"], true, "{listing}");
    let plain = json!({"files": [entry("notes/a.md", 2, b"plain again")]});
    let refused = p
        .both("plaintext push after", Route::Push, None, plain)
        .await;
    assert_eq!(refused["error"]["code"], "vault_encrypted");
    p.both("abandon after", Route::AbandonMigration, None, Value::Null)
        .await;
    p.model.check().expect("the model's invariants");

    let mut p = pair(&app, "abandoning", "the abandon").await;
    p.push(&[("notes/a.md", 0, b"alpha"), ("notes/b.md", 0, b"beta")])
        .await;
    p.start().await;
    let a1 = p.copy("notes/a.md", 1, b"alpha", 1);
    p.stage(std::slice::from_ref(&a1)).await;
    assert_eq!(p.status().await["staged"], 1);
    let back = p
        .both("abandon", Route::AbandonMigration, None, Value::Null)
        .await;
    assert_eq!(back["mode"], "plaintext", "{back}");
    p.both(
        "stage after",
        Route::StageMigration,
        None,
        json!({"files": [a1.0]}),
    )
    .await;
    p.push(&[("notes/b.md", 1, b"beta, still plaintext")]).await;
    p.both("state after", Route::State, None, Value::Null).await;
    p.start().await;
    p.both("abandon again", Route::AbandonMigration, None, Value::Null)
        .await;
    p.both("abandon twice", Route::AbandonMigration, None, Value::Null)
        .await;
}
