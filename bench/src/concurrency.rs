//! Part 4, concurrency: 50 devices of one user, then 50 users, syncing at once. Each
//! worker is a device with sandboxes of its own (a `push` and a `confirm` app state, each
//! with its own pool of at most 2 connections, as 50 concurrent Lambdas would have) and
//! loops: push two edited files → PUT the bytes to S3 → confirm.
//!
//! The devices of one user each edit a file of their own and one shared file: conflicts on
//! the shared file are expected (the device then takes the server's version as its new base,
//! as a client does after a merge); anything else (an error status, a conflict on a file
//! only that device edits, a missing upload, a rejection) is a failure. Afterwards the
//! database must show every confirmed version and nothing else: no lost update.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::Sandbox;
use serde_json::{Value, json};

use crate::api::{self, Endpoint};
use crate::env::{BenchEnv, Device};
use crate::report::Section;
use crate::stats::{self, Series};

#[derive(Debug, Clone)]
pub struct Plan {
    pub workers: usize,
    pub rounds: usize,
    /// Pool size of each sandbox (`DATABASE_MAX_CONNECTIONS`), set by [`run`].
    pub(crate) connections: u32,
    /// Prefix of the users' subjects, so runs in one database do not share users.
    pub(crate) tag: String,
}

impl Plan {
    pub fn new(workers: usize, rounds: usize) -> Self {
        Plan {
            workers,
            rounds,
            connections: DEPLOYED_POOL,
            tag: String::new(),
        }
    }
}

/// `DATABASE_MAX_CONNECTIONS` as deployed (the default).
const DEPLOYED_POOL: u32 = 2;

const SHARED: &str = "shared/board.md";

#[derive(Default)]
struct Outcome {
    push: Series,
    confirm: Series,
    upload: Series,
    requests: usize,
    commits: usize,
    shared_commits: usize,
    expected_conflicts: usize,
    errors: BTreeMap<String, usize>,
    started: Option<Instant>,
    finished: Option<Instant>,
}

impl Outcome {
    fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    fn merge(&mut self, other: Outcome) {
        for d in other.push.samples() {
            self.push.push(d);
        }
        for d in other.confirm.samples() {
            self.confirm.push(d);
        }
        for d in other.upload.samples() {
            self.upload.push(d);
        }
        self.requests += other.requests;
        self.commits += other.commits;
        self.shared_commits += other.shared_commits;
        self.expected_conflicts += other.expected_conflicts;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.started = match (self.started, other.started) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.finished = match (self.finished, other.finished) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

struct Worker {
    dev: Device,
    push_fn: Sandbox,
    confirm_fn: Sandbox,
    http: reqwest::Client,
    /// path → the version this device last saw.
    files: Vec<(String, i64)>,
    shared: Option<String>,
}

impl Worker {
    async fn call(&self, endpoint: Endpoint, body: &Value) -> api::Timed {
        let state = match endpoint {
            Endpoint::Confirm => &self.confirm_fn,
            _ => &self.push_fn,
        };
        api::call(
            state,
            api::event(endpoint, &[], Some(body), &self.dev.token),
        )
        .await
    }

    fn is_shared(&self, path: &str) -> bool {
        self.shared.as_deref() == Some(path)
    }

    fn set_version(&mut self, path: &str, version: i64) {
        if let Some(f) = self.files.iter_mut().find(|(p, _)| p == path) {
            f.1 = version;
        }
    }

    /// A conflict: expected on the shared file (take the server's version), else an error.
    fn conflict(&mut self, out: &mut Outcome, c: &Value, at: &str) {
        let path = c["path"].as_str().unwrap_or_default().to_owned();
        if self.is_shared(&path) {
            out.expected_conflicts += 1;
            self.set_version(&path, c["server_version"].as_i64().unwrap_or(0));
        } else {
            out.error(format!("{at}: conflict on a file only this device edits"));
        }
    }

    async fn run(&mut self, rounds: usize, barrier: Arc<tokio::sync::Barrier>) -> Outcome {
        let mut out = Outcome::default();
        // Warm sandboxes (pool connected, statements prepared): cold starts are part 3.
        let empty = json!({"files": []});
        for endpoint in [Endpoint::Push, Endpoint::Confirm] {
            let t = self.call(endpoint, &empty).await;
            if t.reply.status != 200 {
                out.error(format!("warm-up {endpoint:?}: {}", t.reply.describe()));
            }
        }
        barrier.wait().await;
        out.started = Some(Instant::now());
        for _ in 0..rounds {
            let mut bytes_of = HashMap::new();
            let entries: Vec<Value> = self
                .files
                .iter()
                .map(|(path, version)| {
                    let bytes = api::note_bytes(path);
                    let e = api::file_entry(path, *version, &bytes);
                    bytes_of.insert(path.clone(), bytes);
                    e
                })
                .collect();
            let pushed = self
                .call(Endpoint::Push, &json!({ "files": entries }))
                .await;
            out.requests += 1;
            out.push.push(pushed.elapsed);
            if pushed.reply.status != 200 {
                out.error(format!("push: {}", pushed.reply.describe()));
                continue;
            }
            for c in pushed.reply.list("conflicts") {
                self.conflict(&mut out, c, "push");
            }
            for r in pushed.reply.list("rejected") {
                out.error(format!(
                    "push: rejected {}",
                    r["code"].as_str().unwrap_or("?")
                ));
            }
            if !pushed.reply.list("unchanged").is_empty() {
                out.error("push: new bytes answered as unchanged");
            }
            let uploads = pushed.reply.list("uploads").to_vec();
            if uploads.is_empty() {
                continue;
            }
            let mut to_confirm = Vec::new();
            for u in &uploads {
                let path = u["path"].as_str().unwrap_or_default();
                let Some(bytes) = bytes_of.get(path) else {
                    out.error("push: upload for a path not pushed");
                    continue;
                };
                if u["upload_url"].is_string() {
                    let t = Instant::now();
                    match api::upload(&self.http, u, bytes.clone()).await {
                        Ok(()) => out.upload.push(t.elapsed()),
                        Err(e) => {
                            out.error(format!("S3 PUT: {}", first_words(&e.to_string())));
                            continue;
                        }
                    }
                }
                to_confirm.push(json!({"path": path, "base_version": u["base_version"],
                    "content_hash": u["content_hash"], "size_bytes": u["size_bytes"]}));
            }
            if to_confirm.is_empty() {
                continue;
            }
            let confirmed = self
                .call(Endpoint::Confirm, &json!({ "files": to_confirm }))
                .await;
            out.requests += 1;
            out.confirm.push(confirmed.elapsed);
            if confirmed.reply.status != 200 {
                out.error(format!("confirm: {}", confirmed.reply.describe()));
                continue;
            }
            for c in confirmed.reply.list("confirmed") {
                let path = c["path"].as_str().unwrap_or_default().to_owned();
                out.commits += 1;
                if self.is_shared(&path) {
                    out.shared_commits += 1;
                }
                self.set_version(&path, c["version"].as_i64().unwrap_or(0));
            }
            for c in confirmed.reply.list("conflicts") {
                self.conflict(&mut out, c, "confirm");
            }
            for m in confirmed.reply.list("missing") {
                out.error(format!(
                    "confirm: missing {}",
                    m["code"].as_str().unwrap_or("?")
                ));
            }
            for r in confirmed.reply.list("rejected") {
                out.error(format!(
                    "confirm: rejected {}",
                    r["code"].as_str().unwrap_or("?")
                ));
            }
        }
        out.finished = Some(Instant::now());
        out
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

/// A worker's `push` and `confirm` sandboxes; the confirm one with a change queue of its
/// own (see [`BenchEnv::new_queue`]).
async fn sandbox_pair(env: &BenchEnv, connections: u32) -> anyhow::Result<(Sandbox, Sandbox)> {
    let queue = env.new_queue().await?;
    let confirm = env
        .sandbox_with_pool(Endpoint::Confirm, connections)
        .await?;
    Ok((
        env.sandbox_with_pool(Endpoint::Push, connections).await?,
        confirm.with_queue(&queue),
    ))
}

pub(crate) struct ScenarioResult {
    pub(crate) name: String,
    outcome: Outcome,
    pub(crate) integrity: Result<String, String>,
    /// Connections the sandboxes held at the end of the run.
    pub(crate) held: i64,
}

impl ScenarioResult {
    /// Unexpected errors, by kind.
    pub(crate) fn errors(&self) -> &BTreeMap<String, usize> {
        &self.outcome.errors
    }

    /// The figures as a row of [`TABLE_HEAD`], after a first cell `label`.
    pub(crate) fn row(&self, label: &str) -> String {
        let o = &self.outcome;
        let wall = match (o.started, o.finished) {
            (Some(a), Some(b)) => b - a,
            _ => Duration::ZERO,
        };
        let secs = wall.as_secs_f64().max(1e-9);
        format!(
            "| {label} | {:.1} s | {} | {:.0} | {} | {} | {} | {} |\n",
            secs,
            o.requests,
            o.requests as f64 / secs,
            p50_p99(&o.push),
            p50_p99(&o.confirm),
            p50_p99(&o.upload),
            o.errors.values().sum::<usize>()
        )
    }
}

/// The head of [`ScenarioResult::row`]'s table.
pub(crate) const TABLE_HEAD: &str = "| run | wall | API requests | requests/s | push | confirm | S3 PUT | errors |\n\
     |---|---:|---:|---:|---:|---:|---:|---:|\n";

async fn run_workers(
    env: &BenchEnv,
    workers: Vec<Worker>,
    rounds: usize,
) -> anyhow::Result<(Outcome, i64)> {
    let start = Arc::new(tokio::sync::Barrier::new(workers.len()));
    // Every worker keeps its sandboxes (and their connections) until they are counted.
    let release = Arc::new(tokio::sync::Barrier::new(workers.len() + 1));
    let mut tasks = tokio::task::JoinSet::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(workers.len());
    for mut w in workers {
        let (start, release, done_tx) = (start.clone(), release.clone(), done_tx.clone());
        tasks.spawn(async move {
            let out = w.run(rounds, start).await;
            let _ = done_tx.send(()).await;
            release.wait().await;
            drop(w);
            out
        });
    }
    drop(done_tx);
    for _ in 0..tasks.len() {
        done_rx.recv().await;
    }
    let held = env.function_connections().await?;
    release.wait().await;
    let mut total = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        total.merge(done?);
    }
    Ok((total, held))
}

/// 50 devices of one user: own files plus one shared file.
async fn one_user(env: &BenchEnv, plan: &Plan) -> anyhow::Result<ScenarioResult> {
    let first = env.new_user("bench-concurrency-devices").await?;
    let mut workers = Vec::new();
    for i in 0..plan.workers {
        let dev = if i == 0 {
            first.clone()
        } else {
            env.new_device(first.user_id, &format!("bench device {i}"))
                .await?
        };
        let (push_fn, confirm_fn) = sandbox_pair(env, plan.connections).await?;
        workers.push(Worker {
            dev,
            push_fn,
            confirm_fn,
            http: env.http.clone(),
            files: vec![(format!("devices/device-{i:02}.md"), 0), (SHARED.into(), 0)],
            shared: Some(SHARED.into()),
        });
    }
    let (outcome, held) = run_workers(env, workers, plan.rounds).await?;

    // Every confirmed version is in the database, and nothing else.
    let (seq,): (i64,) = sqlx::query_as("SELECT change_seq FROM users WHERE id = $1")
        .bind(first.user_id)
        .fetch_one(&env.admin)
        .await?;
    let (history,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM file_versions WHERE user_id = $1")
            .bind(first.user_id)
            .fetch_one(&env.admin)
            .await?;
    let shared_version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM file_state WHERE user_id = $1 AND path = $2")
            .bind(first.user_id)
            .bind(SHARED)
            .fetch_optional(&env.admin)
            .await?;
    let commits = outcome.commits as i64;
    let shared = outcome.shared_commits as i64;
    let integrity = if seq == commits && history == commits && shared_version.unwrap_or(0) == shared
    {
        Ok(format!(
            "{commits} versions confirmed = change counter {seq} = {history} history rows; the \
             shared file is at version {shared} = its {shared} confirmed edits"
        ))
    } else {
        Err(format!(
            "confirmed {commits} versions ({shared} of the shared file), but the change counter \
             is {seq}, the history has {history} rows, the shared file is at version {shared_version:?}"
        ))
    };
    Ok(ScenarioResult {
        name: format!("{} devices of one user", plan.workers),
        outcome,
        integrity,
        held,
    })
}

/// 50 users, one device each, two files each.
pub(crate) async fn many_users(env: &BenchEnv, plan: &Plan) -> anyhow::Result<ScenarioResult> {
    let mut workers = Vec::new();
    let mut users = Vec::new();
    for i in 0..plan.workers {
        let dev = env
            .new_user(&format!("bench-concurrency-user-{}{i}", plan.tag))
            .await?;
        users.push(dev.user_id);
        let (push_fn, confirm_fn) = sandbox_pair(env, plan.connections).await?;
        workers.push(Worker {
            dev,
            push_fn,
            confirm_fn,
            http: env.http.clone(),
            files: vec![("notes/a.md".into(), 0), ("notes/b.md".into(), 0)],
            shared: None,
        });
    }
    let (outcome, held) = run_workers(env, workers, plan.rounds).await?;
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.0).collect();
    let (sum_seq, history): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(SUM(change_seq), 0)::BIGINT FROM users WHERE id = ANY($1)),
                (SELECT count(*) FROM file_versions WHERE user_id = ANY($1))",
    )
    .bind(&ids)
    .fetch_one(&env.admin)
    .await?;
    let commits = outcome.commits as i64;
    let integrity = if sum_seq == commits && history == commits {
        Ok(format!(
            "{commits} versions confirmed = sum of the change counters = history rows"
        ))
    } else {
        Err(format!(
            "confirmed {commits} versions, but the change counters sum to {sum_seq} and the \
             history has {history} rows"
        ))
    };
    Ok(ScenarioResult {
        name: format!("{} users, one device each", plan.workers),
        outcome,
        integrity,
        held,
    })
}

/// The section, and whether everything went as expected.
pub async fn run(env: &BenchEnv, plan: &Plan) -> anyhow::Result<(Section, bool)> {
    // Each worker is two sandboxes; with the deployed pool of 2 they may hold twice as many
    // connections. Use that if the server admits it, else 1 per sandbox (and say so).
    let sandboxes = 2 * plan.workers as i64;
    let headroom = env.connection_headroom().await?;
    let mut plan = plan.clone();
    let forced: Option<u32> = std::env::var("BENCH_SANDBOX_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1);
    plan.connections = if let Some(n) = forced {
        n
    } else if headroom >= sandboxes * i64::from(DEPLOYED_POOL) + 10 {
        DEPLOYED_POOL
    } else if headroom >= sandboxes + 10 {
        1
    } else {
        anyhow::bail!(
            "the database admits {headroom} more connections, too few for {sandboxes} sandboxes"
        );
    };
    let plan = &plan;
    let mut results = Vec::new();
    for scenario in 0..2 {
        let started = Instant::now();
        let r = if scenario == 0 {
            one_user(env, plan).await?
        } else {
            many_users(env, plan).await?
        };
        eprintln!(
            "[bench] part 4: {} in {:.1} s",
            r.name,
            started.elapsed().as_secs_f64()
        );
        results.push(r);
    }
    Ok(report(plan, headroom, &results))
}

fn p50_p99(s: &Series) -> String {
    format!(
        "{} / {}",
        stats::opt_ms(s.median_ms()),
        stats::opt_ms(s.p99_ms())
    )
}

fn report(plan: &Plan, headroom: i64, results: &[ScenarioResult]) -> (Section, bool) {
    let mut ok = true;
    let pool = if plan.connections == DEPLOYED_POOL {
        format!("a pool of at most {DEPLOYED_POOL} connections, as deployed")
    } else {
        format!(
            "a pool of at most {} connection instead of the deployed {DEPLOYED_POOL}: {} \
             sandboxes could then open {} connections, and this server admitted {headroom} more \
             when the part started. Production has the same problem (the header of \
             `template.yaml`: RDS Proxy in front once concurrency grows)",
            plan.connections,
            2 * plan.workers,
            2 * plan.workers * DEPLOYED_POOL as usize
        )
    };
    let mut body = format!(
        "{} workers at once, each {} rounds of push (2 edited files) → S3 PUT of the bytes → \
         confirm, released together by a barrier after one warm-up request per sandbox. Each \
         worker has its own `push` and `confirm` app state, as concurrent Lambdas would, and \
         the confirm one its own change queue. Each app state has {pool}. All of it runs in \
         one process on this 2-core machine, next to Postgres, S3 (s3s-fs) and SQS (moto; \
         confirm waits for its SendMessage), so the figures show where this machine \
         saturates, not what Lambda would do. Latencies in ms, **median / p99**; throughput = \
         API requests (push + confirm) per second of wall time. The devices of one user \
         commit one after the other by design (each confirm locks the user's row).\n\n",
        plan.workers, plan.rounds
    );
    let mut table = String::from(
        "| scenario | wall | API requests | requests/s | versions committed/s | push | confirm | S3 PUT | expected conflicts | other errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut notes = String::new();
    for r in results {
        let o = &r.outcome;
        let wall = match (o.started, o.finished) {
            (Some(a), Some(b)) => b - a,
            _ => Duration::ZERO,
        };
        let secs = wall.as_secs_f64().max(1e-9);
        let errors: usize = o.errors.values().sum();
        table.push_str(&format!(
            "| {} | {:.1} s | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} |\n",
            r.name,
            secs,
            o.requests,
            o.requests as f64 / secs,
            o.commits as f64 / secs,
            p50_p99(&o.push),
            p50_p99(&o.confirm),
            p50_p99(&o.upload),
            o.expected_conflicts,
            errors
        ));
        if errors > 0 {
            ok = false;
            notes.push_str(&format!(
                "- **FAILED: {}: {errors} unexpected errors**: {}\n",
                r.name,
                o.errors
                    .iter()
                    .map(|(k, v)| format!("{k} ×{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        notes.push_str(&format!(
            "- {}: the {} sandboxes held {} connections to Postgres at the end.\n",
            r.name,
            2 * plan.workers,
            r.held
        ));
        match &r.integrity {
            Ok(text) => notes.push_str(&format!("- {}: no lost update: {text}.\n", r.name)),
            Err(text) => {
                ok = false;
                notes.push_str(&format!("- **FAILED: {}: {text}**\n", r.name));
            }
        }
    }
    body.push_str(&table);
    body.push('\n');
    body.push_str(&notes);
    let summary = format!(
        "{} workers, {} rounds each; ms median / p99:\n\n{table}\n{notes}",
        plan.workers, plan.rounds
    );
    (
        Section {
            title: "4. Concurrency".into(),
            body,
            summary,
        },
        ok,
    )
}
