//! Part 3, cold start and size: the arm64 release binary of every function (as
//! `cargo lambda build --release --arm64` leaves them in `target/lambda/`), and the time
//! from process start to the first handled request of the vault functions, each started
//! fresh against the Lambda Runtime API emulation of [`crate::lambda_api`], several times.
//!
//! A start is timed at three moments: the process asks for its first event (init done:
//! config, clients), it posts the first answer (the first request includes connecting to
//! Postgres), and it posts the answer to a second, warm request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::api::{self, Endpoint};
use crate::env::{BenchEnv, Device};
use crate::lambda_api::{RuntimeApi, Signal};
use crate::report::Section;
use crate::seed::{self, FileRec};
use crate::stats::{self, Series};

#[derive(Debug, Clone)]
pub struct Plan {
    /// Starts per function.
    pub starts: usize,
    /// Native function binaries to start.
    pub bin_dir: PathBuf,
    /// `cargo lambda build` output: `<dir>/<function>/bootstrap`.
    pub lambda_dir: PathBuf,
    /// `functions/`: every function crate.
    pub functions_dir: PathBuf,
    /// How the arm64 binaries came to be (from scripts/bench.sh).
    pub arm64_note: String,
    /// The profile the native binaries were built with.
    pub profile: String,
}

const FUNCTIONS: [Endpoint; 5] = [
    Endpoint::State,
    Endpoint::Push,
    Endpoint::Confirm,
    Endpoint::Pull,
    Endpoint::Delete,
];

#[derive(Default)]
struct Timings {
    init: Series,
    first: Series,
    first_alone: Series,
    warm: Series,
}

/// The user whose vault the starts work on, and where each function is in it.
struct Subject {
    dev: Device,
    files: Vec<FileRec>,
    next: HashMap<&'static str, usize>,
}

impl Subject {
    /// Distinct files per function (confirm and delete change them; they never share).
    fn take(&mut self, function: &'static str) -> usize {
        let base = match function {
            "confirm" => 0,
            "delete" => self.files.len() / 2,
            _ => self.files.len() / 4,
        };
        let n = self.next.entry(function).or_insert(0);
        let i = base + *n;
        *n += 1;
        i % self.files.len()
    }
}

pub async fn run(env: &BenchEnv, plan: &Plan) -> anyhow::Result<Section> {
    let sizes = binary_sizes(plan)?;

    let dev = env.new_user("bench-cold-start").await?;
    let files = seed::seed_files(&env.admin, dev.user_id, dev.device_id, "cold", 1000).await?;
    seed::analyze(&env.admin).await?;
    let mut subject = Subject {
        dev,
        files,
        next: HashMap::new(),
    };
    let push_state = env.sandbox(Endpoint::Push).await?;
    let log_dir = std::env::temp_dir().join(format!("steel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir)?;

    let mut timings: HashMap<&'static str, Timings> = HashMap::new();
    let mut native_sizes: Vec<(&str, u64)> = Vec::new();
    for endpoint in FUNCTIONS {
        let bin = plan.bin_dir.join(endpoint.function());
        let meta = std::fs::metadata(&bin).with_context(|| {
            format!(
                "{} is missing: build it with `cargo build --profile {} -p {}`",
                bin.display(),
                plan.profile,
                endpoint.function()
            )
        })?;
        native_sizes.push((endpoint.function(), meta.len()));
    }
    // Round-robin over the functions: a noisy moment hits all of them alike.
    for i in 0..plan.starts {
        for endpoint in FUNCTIONS {
            let function = endpoint.function();
            let events = prepare(env, &push_state, &mut subject, endpoint).await?;
            let log = log_dir.join(format!("{function}-{i}.log"));
            // An empty change queue per start (see BenchEnv::new_queue).
            let queue = env.new_queue().await?;
            let vars = env.function_env_with_queue(&queue);
            let t = start_once(&vars, plan, endpoint, events, &log).with_context(|| {
                format!("cold start {i} of {function} (log: {})", log.display())
            })?;
            env.drop_queue(&queue).await?;
            after(env, &mut subject, endpoint).await?;
            let entry = timings.entry(function).or_default();
            entry.init.push(t.0);
            entry.first.push(t.1);
            entry.first_alone.push(t.2);
            entry.warm.push(t.3);
        }
        eprintln!(
            "[bench] part 3: cold starts round {} of {}",
            i + 1,
            plan.starts
        );
    }
    let _ = std::fs::remove_dir_all(&log_dir);
    Ok(report(plan, &sizes, &native_sizes, &timings))
}

/// The two events a start answers (cold, then warm), prepared in-process.
async fn prepare(
    env: &BenchEnv,
    push_state: &api::Sandbox,
    s: &mut Subject,
    endpoint: Endpoint,
) -> anyhow::Result<Vec<Value>> {
    let function = endpoint.function();
    let token = s.dev.token.clone();
    let mut events = Vec::new();
    match endpoint {
        Endpoint::State => {
            let head = env.head(s.dev.user_id).await?;
            for _ in 0..2 {
                events.push(api::event(
                    endpoint,
                    &[("cursor", format!("c{head}"))],
                    None,
                    &token,
                ));
            }
        }
        Endpoint::Pull => {
            for _ in 0..2 {
                let i = s.take(function);
                let f = &s.files[i];
                events.push(api::event(
                    endpoint,
                    &[],
                    Some(&json!({"paths": [f.path]})),
                    &token,
                ));
            }
        }
        Endpoint::Push => {
            for _ in 0..2 {
                let i = s.take(function);
                let f = &s.files[i];
                let body = json!({"files": [api::file_entry(&f.path, f.version, &api::note_bytes(&f.path))]});
                events.push(api::event(endpoint, &[], Some(&body), &token));
            }
        }
        Endpoint::Delete => {
            for _ in 0..2 {
                let i = s.take(function);
                let f = &s.files[i];
                let body = json!({"files": [{"path": f.path, "base_version": f.version}]});
                events.push(api::event(endpoint, &[], Some(&body), &token));
            }
        }
        Endpoint::Confirm => {
            // A device pushed and uploaded two edits; the fresh function confirms them.
            for _ in 0..2 {
                let i = s.take(function);
                let f = s.files[i].clone();
                let bytes = api::note_bytes(&f.path);
                let body = json!({"files": [api::file_entry(&f.path, f.version, &bytes)]});
                let pushed = api::call(
                    push_state,
                    api::event(Endpoint::Push, &[], Some(&body), &token),
                )
                .await;
                let uploads = pushed.reply.list("uploads");
                if pushed.reply.status != 200 || uploads.len() != 1 {
                    bail!("preparing a confirm: push answered {}", pushed.reply.body);
                }
                let bytes_of = HashMap::from([(f.path.clone(), bytes)]);
                api::upload_all(&env.http, uploads, &bytes_of, 1).await?;
                events.push(api::event(endpoint, &[], Some(&body), &token));
            }
        }
        Endpoint::Account => {
            for _ in 0..2 {
                events.push(api::event(endpoint, &[], None, &token));
            }
        }
        // Part 5 measures the recovery functions warm; their cold start is not measured.
        Endpoint::History | Endpoint::Deleted | Endpoint::Restore => {
            anyhow::bail!("no cold-start events for {function}")
        }
    }
    events
        .into_iter()
        .map(|e| Ok(serde_json::to_value(e)?))
        .collect()
}

/// Reads back the versions a start changed (confirm and delete write).
async fn after(env: &BenchEnv, s: &mut Subject, endpoint: Endpoint) -> anyhow::Result<()> {
    if !matches!(endpoint, Endpoint::Confirm | Endpoint::Delete) {
        return Ok(());
    }
    let n = s.next.get(endpoint.function()).copied().unwrap_or(0);
    for back in 1..=2.min(n) {
        let base = match endpoint {
            Endpoint::Confirm => 0,
            _ => s.files.len() / 2,
        };
        let i = (base + n - back) % s.files.len();
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM file_state WHERE user_id = $1 AND path = $2")
                .bind(s.dev.user_id)
                .bind(&s.files[i].path)
                .fetch_one(&env.admin)
                .await?;
        s.files[i].version = version;
    }
    Ok(())
}

/// (init, start → first answer, first request alone, warm request).
fn start_once(
    vars: &[(String, String)],
    plan: &Plan,
    endpoint: Endpoint,
    events: Vec<Value>,
    log: &Path,
) -> anyhow::Result<(Duration, Duration, Duration, Duration)> {
    let function = endpoint.function();
    let ids: Vec<String> = (0..events.len())
        .map(|i| format!("bench-{function}-{i}-{}", uuid::Uuid::new_v4()))
        .collect();
    let api = RuntimeApi::start(
        function,
        ids.iter()
            .cloned()
            .zip(events.iter().map(Value::to_string))
            .collect(),
    )?;
    let log_file = std::fs::File::create(log)?;
    let mut cmd = Command::new(plan.bin_dir.join(function));
    cmd.env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("RUST_LOG", "info")
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file.try_clone()?))
        .stderr(Stdio::from(log_file));
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", plan.bin_dir.join(function).display()))?;
    let result = watch(&api, &mut child, started, &ids);
    let _ = child.kill();
    let _ = child.wait();
    drop(api);
    match result {
        Ok(t) => Ok(t),
        Err(e) => {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(e.context(format!("function output:\n{}", tail.join("\n"))))
        }
    }
}

fn watch(
    api: &RuntimeApi,
    child: &mut Child,
    started: Instant,
    ids: &[String],
) -> anyhow::Result<(Duration, Duration, Duration, Duration)> {
    let deadline = started + Duration::from_secs(60);
    let mut served: HashMap<String, Instant> = HashMap::new();
    let mut answered: Vec<Instant> = Vec::new();
    let mut init = None;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("the function exited ({status}) before answering");
        }
        let signal = match api.recv(Duration::from_millis(50)) {
            Ok(s) => s,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(e) => bail!("runtime API: {e}"),
        };
        match signal {
            Signal::Next { at, request_id } => {
                init.get_or_insert(at - started);
                match request_id {
                    Some(id) => {
                        served.insert(id, at);
                    }
                    // Idle after answering both events: ready for the next one.
                    None if answered.len() >= ids.len() => break,
                    None => {}
                }
            }
            Signal::Response {
                at,
                request_id,
                body,
            } => {
                let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                if answer["statusCode"].as_i64() != Some(200) {
                    bail!("{request_id} answered {body}");
                }
                answered.push(at);
            }
            Signal::Error { path, body } => bail!("the function reported {path}: {body}"),
        }
    }
    if answered.len() < 2 {
        bail!(
            "no answer within 60 s ({} of {})",
            answered.len(),
            ids.len()
        );
    }
    let init = init.unwrap_or_default();
    let first_served = served.get(&ids[0]).copied().unwrap_or(started);
    let second_served = served.get(&ids[1]).copied().unwrap_or(answered[0]);
    Ok((
        init,
        answered[0] - started,
        answered[0] - first_served,
        answered[1].saturating_duration_since(second_served),
    ))
}

struct Binary {
    function: String,
    bytes: Option<u64>,
    aarch64: bool,
    modified: Option<SystemTime>,
}

fn binary_sizes(plan: &Plan) -> anyhow::Result<Vec<Binary>> {
    let mut names: Vec<String> = std::fs::read_dir(&plan.functions_dir)
        .with_context(|| format!("reading {}", plan.functions_dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|function| {
            let path = plan.lambda_dir.join(&function).join("bootstrap");
            let meta = std::fs::metadata(&path).ok();
            // ELF e_machine (bytes 18-19): 0xB7 is aarch64, what arm64 Lambda runs.
            let aarch64 = std::fs::read(&path)
                .ok()
                .is_some_and(|b| b.len() > 20 && b[18] == 0xb7 && b[19] == 0);
            Binary {
                function,
                bytes: meta.as_ref().map(std::fs::Metadata::len),
                aarch64,
                modified: meta.and_then(|m| m.modified().ok()),
            }
        })
        .collect())
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1024.0 / 1024.0)
}

fn median_range(s: &Series) -> String {
    format!(
        "{} ({}–{})",
        stats::opt_ms(s.median_ms()),
        stats::opt_ms(s.min_ms()),
        stats::opt_ms(s.max_ms())
    )
}

fn report(
    plan: &Plan,
    sizes: &[Binary],
    native: &[(&str, u64)],
    timings: &HashMap<&'static str, Timings>,
) -> Section {
    let mut body = String::new();
    body.push_str(&format!(
        "**Binary size** (arm64, `cargo lambda build --release --arm64`: fat LTO, one codegen \
         unit, symbols stripped; what `sam build` deploys). {}\n\n",
        plan.arm64_note
    ));
    body.push_str("| function | bytes | MiB |\n|---|---:|---:|\n");
    let mut problems = Vec::new();
    for b in sizes {
        match b.bytes {
            Some(bytes) if b.aarch64 => {
                body.push_str(&format!(
                    "| {} | {} | {} |\n",
                    b.function,
                    stats::thousands(bytes),
                    mib(bytes)
                ));
            }
            Some(_) => {
                body.push_str(&format!("| {} | not an aarch64 binary | |\n", b.function));
                problems.push(b.function.clone());
            }
            None => {
                body.push_str(&format!("| {} | missing | |\n", b.function));
                problems.push(b.function.clone());
            }
        }
    }
    if let Some(newest) = sizes.iter().filter_map(|b| b.modified).max() {
        let at: chrono::DateTime<chrono::Utc> = newest.into();
        body.push_str(&format!(
            "\nNewest binary written {} UTC.",
            at.format("%Y-%m-%d %H:%M")
        ));
    }
    if !problems.is_empty() {
        body.push_str(&format!(
            " Missing or not arm64: {} (run `make build-arm64`).",
            problems.join(", ")
        ));
    }
    let mut summary = String::new();
    let present: Vec<u64> = sizes
        .iter()
        .filter(|b| b.aarch64)
        .filter_map(|b| b.bytes)
        .collect();
    if let (Some(min), Some(max)) = (present.iter().min(), present.iter().max()) {
        summary.push_str(&format!(
            "arm64 release binaries: {} to {} MiB ({} functions; per function in BENCHMARKS.md).\n\n",
            mib(*min),
            mib(*max),
            present.len()
        ));
    }
    summary.push_str(&format!(
        "Cold start, ms, median (min–max) of {} starts (native `{}` build, Lambda Runtime API \
         emulation):\n\n",
        plan.starts, plan.profile
    ));
    body.push_str(&format!(
        "\n\n**Cold start**: each vault function started {} times as a fresh process (native \
         x86_64 binary of the `{}` profile: release without fat LTO, so the bench builds in \
         minutes), fed through a Lambda Runtime API emulation on loopback, with the deployed \
         environment (the function's own clients, a lazy pool of at most 2 connections, JSON \
         logs). Milliseconds, **median (min–max)**, starts round-robin over the functions. \
         *Ready*: process start → first `GET /invocation/next` (config read, clients built). \
         *First answer*: process start → first answer posted; it includes connecting to \
         Postgres. *First request*: event handed over → its answer. *Warm request*: the second \
         event, same process. The first requests: `state` with a cursor at the head, `push` of \
         1 edited file, `confirm` of 1 uploaded file (HeadObject, commit, SQS notice), `pull` of \
         1 path, `delete` of 1 file.\n\n",
        plan.starts, plan.profile
    ));
    let mut table = String::from(
        "| function | ready | first answer | first request | warm request | binary (native) |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for endpoint in FUNCTIONS {
        let f = endpoint.function();
        if let Some(t) = timings.get(f) {
            let native_size = native
                .iter()
                .find(|(n, _)| *n == f)
                .map_or("–".into(), |(_, b)| format!("{} MiB", mib(*b)));
            table.push_str(&format!(
                "| {f} | {} | {} | {} | {} | {native_size} |\n",
                median_range(&t.init),
                median_range(&t.first),
                median_range(&t.first_alone),
                median_range(&t.warm),
            ));
        }
    }
    body.push_str(&table);
    summary.push_str(&table);
    Section {
        title: "3. Cold start and size".into(),
        body,
        summary,
    }
}
