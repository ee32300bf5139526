//! The simulation's model against the real handlers for an end-to-end encrypted account:
//! seeded sequences from two devices of one user whose account turned encrypted with its
//! first `PUT /vault/keys` (then slot writes with the current, a stale, a malformed or no
//! ETag, and an empty slot set), sealed pushes and confirms (stale and ahead bases, a
//! manifest sealed for another version, uploads made, skipped or retried, one content
//! encrypted twice so blob-id dedupe decides), path-key twins (two names, one key: the same
//! note), sealed deletes with and without `confirm_mass_delete`, sealed pulls of current and
//! past versions, state pages from every cursor (the caller's own versions brief or full,
//! `own` refused), restores by path key, rewinds of the whole
//! vault (`model_diff_rewind.rs`; a `prefix` refused), packs of ciphertext
//! hashes, and plaintext-shaped bodies (refused). Every answer must be the same, URLs,
//! expiries and timestamps aside, as must the whole listing after each sequence.
//!
//! `STEEL_DIFF_SEQUENCES` sequences (default 6) of `STEEL_DIFF_STEPS` requests (default 60),
//! as the plaintext comparison (`model_diff.rs`).

use std::collections::BTreeSet;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sqlx::PgPool;
use steel_core::domain::{ContentHash, VaultPath};
use steel_crypto::EncryptedBlob;
use steel_sim::model::{Limits, Server};

use super::encrypted::{Vault, slots_body, slots_body_with};
use super::model_diff::normal;
use crate::support::TestApp;
use crate::support::client::TestDevice;

/// Names of notes: a case twin and an NFD twin share their path key with another.
const NAMES: [&str; 5] = [
    "notes/a.md",
    "notes/A.md",
    "notes/caf\u{e9}.md",
    "other/c.md",
    "other/d.md",
];
const CONTENTS: [&[u8]; 3] = [b"one", b"two\n", b"three three"];
/// The `own` of state requests, by step (`""`: none): the caller's own live versions brief
/// or full, and a value both refuse.
const OWNS: [&str; 5] = ["brief", "", "brief", "full", "bad"];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Pair<'a> {
    app: &'a TestApp,
    devices: [TestDevice; 2],
    model: Server,
    vault: Vault,
    rng: ChaCha8Rng,
    /// Draws of the rewinds (`model_diff_rewind.rs`), apart from `rng`: the other
    /// requests stay as they were.
    rewinds: ChaCha8Rng,
    cursors: Vec<String>,
    /// Moments between two requests, for rewinds.
    moments: Vec<chrono::DateTime<chrono::Utc>>,
    etags: Vec<String>,
    label: String,
    seen: &'a mut BTreeSet<String>,
}

impl Pair<'_> {
    fn model(
        &mut self,
        d: usize,
        method: &str,
        route: &str,
        tag: Option<&str>,
        body: &Value,
    ) -> (i64, Value) {
        self.model.now = chrono::Utc::now();
        let bytes = serde_json::to_vec(body).expect("JSON");
        let device = Some(self.devices[d].device_id);
        let a = self.model.handle_with(device, method, route, tag, &bytes);
        (
            i64::from(a.status),
            serde_json::from_slice(&a.body).expect("model JSON"),
        )
    }

    fn same(&mut self, step: usize, what: &str, real: (i64, &Value), model: (i64, &Value)) {
        self.seen.insert(format!("{what} {}", real.0));
        if let Some(code) = real.1["error"]["code"].as_str() {
            self.seen.insert(code.to_owned());
        }
        for list in ["rejected", "missing"] {
            for e in real.1[list].as_array().into_iter().flatten() {
                self.seen
                    .insert(e["code"].as_str().unwrap_or_default().to_owned());
            }
        }
        for list in [
            "conflicts",
            "restored",
            "unchanged",
            "packs",
            "deleted",
            "uploads",
        ] {
            if real.1[list].as_array().is_some_and(|l| !l.is_empty()) {
                self.seen.insert(format!("{what} {list}"));
            }
        }
        let (r, m) = (normal(real.1), normal(model.1));
        assert!(
            real.0 == model.0 && r == m,
            "{}, step {step}, {what}: the model answered differently\n real  {} {r}\n model {} {m}",
            self.label,
            real.0,
            model.0
        );
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn key(&self, name: &str) -> String {
        self.vault.key(name).to_hex()
    }

    /// A base version: mostly the server's own, sometimes stale, ahead or none.
    fn base(&mut self, name: &str) -> i64 {
        let key = VaultPath::parse(&self.key(name)).expect("a key is a path");
        let current = self.model.files.get(&key).map_or(0, |f| f.version);
        match self.rng.random_range(0..10) {
            0 => 0,
            1 => current - 1,
            2 => current + 1,
            _ => current,
        }
    }

    /// Distinct notes (by path key) with a base and a content encrypted one of two ways.
    fn notes(&mut self, max: usize) -> Vec<(&'static str, i64, &'static [u8], EncryptedBlob)> {
        let n = self.rng.random_range(1..=max);
        let mut out: Vec<(&str, i64, &[u8], EncryptedBlob)> = Vec::new();
        for _ in 0..n {
            let name = self.pick(&NAMES);
            if out.iter().any(|(o, ..)| self.key(o) == self.key(name)) {
                continue;
            }
            let base = self.base(name);
            let content = self.pick(&CONTENTS);
            let blob = self.vault.blob(content, self.rng.random_range(1..=2));
            out.push((name, base, content, blob));
        }
        out
    }

    async fn keys(&mut self, step: usize, d: usize) {
        let real = self.app.keys(&self.devices[d]).await;
        let model = self.model(d, "GET", "/vault/keys", None, &Value::Null);
        self.same(step, "keys", (real.status, &real.body), (model.0, &model.1));
        if let Some(tag) = real.body["etag"].as_str() {
            self.etags.push(tag.to_owned());
        }
        let tag = match self.rng.random_range(0..6) {
            0 => None,
            1 => Some("\"v01\"".to_owned()),
            _ => Some(self.pick(&(0..self.etags.len()).collect::<Vec<_>>()))
                .map(|i| self.etags[i].clone()),
        };
        let body = match self.rng.random_range(0..5) {
            0 => json!({"slots": [], "keyring": null}),
            _ => slots_body_with(self.rng.random_range(1..=4)),
        };
        let real = self
            .app
            .put_keys(&self.devices[d], tag.as_deref(), body.clone())
            .await;
        let model = self.model(d, "PUT", "/vault/keys", tag.as_deref(), &body);
        self.same(
            step,
            "put keys",
            (real.status, &real.body),
            (model.0, &model.1),
        );
    }

    async fn push_confirm(&mut self, step: usize, d: usize) {
        let notes = self.notes(3);
        let body = json!({"files": notes.iter()
            .map(|(n, b, _, blob)| self.vault.push_entry(n, *b, blob)).collect::<Vec<_>>()});
        let real = self.app.push(&self.devices[d], body.clone()).await;
        let model = self.model(d, "POST", "/vault/push", None, &body);
        self.same(step, "push", (real.status, &real.body), (model.0, &model.1));
        let uploads = real.body["uploads"].as_array().cloned().unwrap_or_default();
        for up in &uploads {
            if up["upload_url"].is_null() || self.rng.random_bool(0.15) {
                continue;
            }
            let hash = up["content_hash"].as_str().unwrap_or_default();
            let Some((.., blob)) = notes
                .iter()
                .find(|(.., b)| ContentHash::of(&b.bytes).to_hex() == hash)
            else {
                continue;
            };
            let put = self.app.upload(up, &blob.bytes).await;
            assert!(
                put.status().is_success(),
                "{}: PUT {}",
                self.label,
                put.status()
            );
            self.model
                .bucket
                .insert(ContentHash::of(&blob.bytes), blob.bytes.clone());
        }
        // Each note confirmed at the version push answered (now and then another).
        let files: Vec<Value> = notes
            .iter()
            .map(|(n, b, content, blob)| {
                let answered = uploads.iter().find(|u| u["path_key"] == json!(self.key(n)));
                let version = answered
                    .and_then(|u| u["version"].as_i64())
                    .unwrap_or(b + 1)
                    .max(1);
                let mut e = self
                    .vault
                    .confirm_entry(n, *b, version, blob, content.len() as u64);
                if let Some(u) = answered {
                    e["content_hash"] = u["content_hash"].clone();
                    e["size_bytes"] = u["size_bytes"].clone();
                }
                e
            })
            .collect();
        let mut body = json!({ "files": files });
        if self.rng.random_bool(0.1) {
            body["files"][0]["version"] =
                json!(body["files"][0]["version"].as_i64().unwrap_or(1) + 1);
        }
        for _ in 0..self.rng.random_range(1..=2) {
            let real = self.app.confirm(&self.devices[d], body.clone()).await;
            let model = self.model(d, "POST", "/vault/push/confirm", None, &body);
            self.same(
                step,
                "confirm",
                (real.status, &real.body),
                (model.0, &model.1),
            );
        }
    }

    async fn delete(&mut self, step: usize, d: usize) {
        let notes = self.notes(4);
        let body = json!({"files": notes.iter().map(|(n, b, ..)| json!({"path_key": self.key(n),
            "base_version": b})).collect::<Vec<_>>(),
            "confirm_mass_delete": self.rng.random_bool(0.3)});
        let real = self.app.delete(&self.devices[d], body.clone()).await;
        let model = self.model(d, "POST", "/vault/delete", None, &body);
        self.same(
            step,
            "delete",
            (real.status, &real.body),
            (model.0, &model.1),
        );
    }

    async fn pull(&mut self, step: usize, d: usize) {
        let notes = self.notes(3);
        let body = match self.rng.random_range(0..5) {
            0 => json!({"paths": [notes[0].0]}),
            1 | 2 => {
                json!({"path_keys": notes.iter().map(|(n, ..)| self.key(n)).collect::<Vec<_>>()})
            }
            _ => json!({"files": notes.iter().map(|(n, b, ..)| json!({"path_key": self.key(n),
                "version": (*b).max(1)})).collect::<Vec<_>>()}),
        };
        let real = self.app.pull(&self.devices[d], body.clone()).await;
        let model = self.model(d, "POST", "/vault/pull", None, &body);
        self.same(step, "pull", (real.status, &real.body), (model.0, &model.1));
    }

    /// A state page as device `d` asks it, with `own` (absent, `full`, `brief` or refused).
    async fn state(
        &mut self,
        step: usize,
        d: usize,
        cursor: Option<String>,
        limit: u32,
        own: Option<&str>,
    ) -> Value {
        let limit_s = limit.to_string();
        let query: Vec<(&str, &str)> = [("limit", Some(limit_s.as_str()))]
            .into_iter()
            .chain([("cursor", cursor.as_deref()), ("own", own)])
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        let real = self.app.state(&self.devices[d], &query).await;
        let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let route = format!("/vault/state?{}", pairs.join("&"));
        let model = self.model(d, "GET", &route, None, &Value::Null);
        let files = real.body["files"].as_array().into_iter().flatten();
        for (brief, case) in [(true, "state brief"), (false, "state brief full")] {
            if own == Some("brief") && files.clone().any(|f| f.get("brief").is_some() == brief) {
                self.seen.insert(case.into());
            }
        }
        self.same(
            step,
            "state",
            (real.status, &real.body),
            (model.0, &model.1),
        );
        if let Some(c) = real.body["cursor"].as_str() {
            self.cursors.push(c.to_owned());
        }
        real.body
    }

    async fn restore(&mut self, step: usize, d: usize) {
        let name = self.pick(&NAMES);
        let base = self.base(name);
        let version = self.rng.random_range(1..=3);
        let body = json!({"files": [{"path_key": self.key(name), "version": version,
            "base_version": base}]});
        let real = self.app.restore(&self.devices[d], body.clone()).await;
        let model = self.model(d, "POST", "/vault/restore", None, &body);
        self.same(
            step,
            "restore",
            (real.status, &real.body),
            (model.0, &model.1),
        );
    }

    /// A rewind, page by page (see `model_diff_rewind.rs`).
    async fn rewind(&mut self, step: usize, d: usize) {
        let mut body = super::model_diff_rewind::first(&mut self.rewinds, &self.moments, None);
        for _ in 0..8 {
            let real = self.app.restore(&self.devices[d], body.clone()).await;
            let model = self.model(d, "POST", "/vault/restore", None, &body);
            self.same(
                step,
                "rewind",
                (real.status, &real.body),
                (model.0, &model.1),
            );
            super::model_diff_rewind::saw(self.seen, &body, &real.body);
            match super::model_diff_rewind::next(&mut self.rewinds, &body, &real.body) {
                Some(b) => body = b,
                None => break,
            }
        }
    }

    async fn packs(&mut self, step: usize, d: usize) {
        let hashes: Vec<String> = (self.model.bucket.keys())
            .map(ContentHash::to_hex)
            .chain([ContentHash::of(b"never pushed").to_hex()])
            .collect();
        let body = json!({ "hashes": hashes });
        let real = self.app.packs(&self.devices[d], body.clone()).await;
        let model = self.model(d, "POST", "/vault/packs", None, &body);
        self.same(
            step,
            "packs",
            (real.status, &real.body),
            (model.0, &model.1),
        );
    }

    async fn step(&mut self, step: usize) {
        let d = self.rng.random_range(0..2);
        match self.rng.random_range(0..100) {
            0..=34 => self.push_confirm(step, d).await,
            35..=49 => self.delete(step, d).await,
            50..=61 => self.pull(step, d).await,
            62..=77 => {
                let cursor = match self.rng.random_range(0..3) {
                    0 => None,
                    _ if self.cursors.is_empty() => None,
                    _ => Some(self.cursors[self.rng.random_range(0..self.cursors.len())].clone()),
                };
                let limit = self.rng.random_range(1..=4);
                // By step, not drawn: the other requests stay as they were.
                let own = Some(OWNS[step % OWNS.len()]).filter(|o| !o.is_empty());
                self.state(step, d, cursor, limit, own).await;
            }
            78..=85 => self.restore(step, d).await,
            86..=91 => self.packs(step, d).await,
            92..=95 => self.keys(step, d).await,
            _ => {
                // A plaintext body: refused by both.
                let body = json!({"files": [super::entry("notes/a.md", 0, b"one")]});
                let real = self.app.push(&self.devices[d], body.clone()).await;
                let model = self.model(d, "POST", "/vault/push", None, &body);
                self.same(
                    step,
                    "plaintext push",
                    (real.status, &real.body),
                    (model.0, &model.1),
                );
            }
        }
    }
}

#[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
async fn the_simulation_model_answers_an_encrypted_account_as_the_handlers_do(pool: PgPool) {
    let app = TestApp::builder(pool.clone())
        .setting("MASS_DELETE_MIN_FILES", "3")
        .spawn()
        .await;
    let sequences = env("STEEL_DIFF_SEQUENCES", 6);
    let steps = env("STEEL_DIFF_STEPS", 60);
    let first = env("STEEL_DIFF_FIRST", 1);
    let mut seen = BTreeSet::new();
    for seq in first..first + sequences {
        let a = app.new_user_device(&format!("sealed{seq}")).await;
        let b = app.another_device(a.user_id, "second").await;
        let mut model = Server::new(chrono::Utc::now());
        let mut limits = Limits::default();
        limits.mass_delete.min_files = 3;
        model.limits = limits;
        let mut pair = Pair {
            app: &app,
            devices: [a, b],
            model,
            vault: Vault::new(),
            rng: ChaCha8Rng::seed_from_u64(seq as u64),
            rewinds: ChaCha8Rng::seed_from_u64(!(seq as u64)),
            cursors: Vec::new(),
            moments: Vec::new(),
            etags: Vec::new(),
            label: format!(
                "encrypted sequence {seq} (STEEL_DIFF_FIRST={seq} STEEL_DIFF_SEQUENCES=1)"
            ),
            seen: &mut seen,
        };
        // The account turns encrypted: the first slots, from "v0" (then a stale retry).
        for _ in 0..2 {
            let real = app
                .put_keys(&pair.devices[0], Some("\"v0\""), slots_body())
                .await;
            let model = pair.model(0, "PUT", "/vault/keys", Some("\"v0\""), &slots_body());
            pair.same(
                0,
                "first keys",
                (real.status, &real.body),
                (model.0, &model.1),
            );
        }
        for step in 0..steps {
            if pair.rewinds.random_range(0..100) < 5 {
                let d = pair.rewinds.random_range(0..2);
                pair.rewind(step, d).await;
            }
            pair.step(step).await;
            pair.moments.push(chrono::Utc::now());
        }
        let mut cursor = None;
        loop {
            let page = pair.state(steps, 0, cursor.clone(), 3, Some("brief")).await;
            if page["has_more"] != json!(true) {
                break;
            }
            cursor = page["cursor"].as_str().map(str::to_owned);
        }
        pair.model
            .check()
            .unwrap_or_else(|e| panic!("{}: {e}", pair.label));
    }
    if sequences >= 6 {
        for case in [
            "vault_encrypted",
            "precondition_failed",
            "not_uploaded",
            "confirm conflicts",
            "restore restored",
            "push unchanged",
            "packs packs",
            "delete deleted",
            "put keys 200",
            "rewind restored",
            "rewind deleted",
            "rewind paged",
            "rewind resumed",
            "invalid_as_of",
            "state brief",
            "state brief full",
            "state 400",
        ] {
            assert!(seen.contains(case), "no sequence reached {case}: {seen:?}");
        }
    }
}
