//! Part 9, fair use (issue 30): one account hammering `state`, `pull` and `push` at ten
//! times its budgets' refill from many tasks and sandboxes, while 50 other accounts sync
//! normally; the same run without the noisy account for comparison. Then what the limiter
//! costs a no-change `state`, with and without it, side by side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use steel_core::budget::{Budgets, Limit};

use crate::api::{self, Endpoint, Sandbox, Timed, call, event, file_entry, note_bytes};
use crate::env::{BenchEnv, Device};
use crate::report::Section;
use crate::stats::{Series, opt_ms};

/// The budgets of this part: small refills, so that ten times them is a load this machine
/// can send (the defaults are 10 reads, 2 writes and 100 download URLs a second); bursts
/// that hold one normal account's whole run (10 rounds: 10 reads, 20 writes, 10 URLs).
const BUDGETS: Budgets = Budgets {
    read: Limit {
        burst: 20,
        per_minute: 600,
    },
    // A normal account's 10 rounds are 20 writes: inside the burst.
    write: Limit {
        burst: 40,
        per_minute: 120,
    },
    download: Limit {
        burst: 1000,
        per_minute: 600,
    },
};
/// Sandboxes per endpoint shared by the 50 (user i uses sandbox i % this).
const SHARED: usize = 10;
/// The noisy account's tasks per endpoint, each with a sandbox of its own.
const NOISY_TASKS: usize = 8;

pub struct Plan {
    pub users: usize,
    pub rounds: usize,
    /// Pause between a normal user's rounds.
    pub pause: Duration,
    pub cost_samples: usize,
}

#[derive(Default)]
struct Normal {
    all: Series,
    refused: u64,
    errors: u64,
}

#[derive(Default)]
struct Noisy {
    sent: AtomicU64,
    granted: AtomicU64,
    refused: AtomicU64,
    refused_with_retry_after: AtomicU64,
    other: AtomicU64,
}

async fn sandboxes(
    env: &BenchEnv,
    endpoint: Endpoint,
    n: usize,
    budgets: Option<Budgets>,
) -> anyhow::Result<Vec<Sandbox>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let mut config = env.config()?;
        config.database.max_connections = 1;
        config.budgets = budgets;
        out.push(Sandbox::of(endpoint, config).await?);
    }
    Ok(out)
}

/// Counts one of the 50's answers.
fn note(out: &mut Normal, t: &Timed) {
    out.all.push(t.elapsed);
    match t.reply.status {
        429 => out.refused += 1,
        s if s >= 400 => out.errors += 1,
        _ => {}
    }
}

/// One normal sync round of `dev`: state from its cursor, push one edited note, PUT,
/// confirm, pull it back. Every answer timed into `out`.
async fn round(
    http: &reqwest::Client,
    sb: &[Sandbox; 4],
    dev: &Device,
    cursor: &mut String,
    version: &mut i64,
    out: &mut Normal,
) {
    let t = call(
        &sb[0],
        event(
            Endpoint::State,
            &[("cursor", cursor.clone())],
            None,
            &dev.token,
        ),
    )
    .await;
    note(out, &t);
    if let Some(c) = t.reply.body["cursor"].as_str() {
        *cursor = c.to_owned();
    }
    let bytes = note_bytes("fair use");
    let files = json!({"files": [file_entry("note.md", *version, &bytes)]});
    let t = call(&sb[1], event(Endpoint::Push, &[], Some(&files), &dev.token)).await;
    note(out, &t);
    if let Some(up) = t.reply.list("uploads").first()
        && !up["upload_url"].is_null()
        && api::upload(http, up, bytes).await.is_err()
    {
        out.errors += 1;
    }
    let t = call(
        &sb[2],
        event(Endpoint::Confirm, &[], Some(&files), &dev.token),
    )
    .await;
    note(out, &t);
    if let Some(v) = t
        .reply
        .list("confirmed")
        .first()
        .and_then(|c| c["version"].as_i64())
    {
        *version = v;
    }
    let pull = json!({"paths": ["note.md"]});
    let t = call(&sb[3], event(Endpoint::Pull, &[], Some(&pull), &dev.token)).await;
    note(out, &t);
}

/// The 50 sync `plan.rounds` rounds each, all at once; with `noisy`, the noisy account
/// hammers meanwhile. What the 50 saw, and what the noisy one got.
async fn one_run(
    env: &BenchEnv,
    plan: &Plan,
    users: &[Device],
    noisy: Option<&Device>,
) -> anyhow::Result<(Normal, Arc<Noisy>, Duration)> {
    let mut shared = Vec::new();
    for endpoint in [
        Endpoint::State,
        Endpoint::Push,
        Endpoint::Confirm,
        Endpoint::Pull,
    ] {
        shared.push(sandboxes(env, endpoint, SHARED, Some(BUDGETS)).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Noisy::default());
    let mut hammer = tokio::task::JoinSet::new();
    if let Some(noisy) = noisy {
        // Ten times each budget's refill, spread over the tasks: reads 100/s, pushes 20/s,
        // pulls of one file 100/s.
        for (endpoint, per_second) in [
            (Endpoint::State, 100.0),
            (Endpoint::Push, 20.0),
            (Endpoint::Pull, 100.0),
        ] {
            let gap = Duration::from_secs_f64(NOISY_TASKS as f64 / per_second);
            for sb in sandboxes(env, endpoint, NOISY_TASKS, Some(BUDGETS)).await? {
                let (stop, tally, dev) = (stop.clone(), tally.clone(), noisy.clone());
                hammer.spawn(async move {
                    let body = match endpoint {
                        Endpoint::Push => {
                            Some(json!({"files": [file_entry("noise.md", 0, b"noise")]}))
                        }
                        Endpoint::Pull => Some(json!({"paths": ["noise.md"]})),
                        _ => None,
                    };
                    let mut next = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        let t = call(&sb, event(endpoint, &[], body.as_ref(), &dev.token)).await;
                        tally.sent.fetch_add(1, Ordering::Relaxed);
                        match t.reply.status {
                            429 => {
                                tally.refused.fetch_add(1, Ordering::Relaxed);
                                if t.reply.retry_after.is_some() {
                                    tally
                                        .refused_with_retry_after
                                        .fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            s if s < 400 => {
                                tally.granted.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                tally.other.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        next += gap;
                        tokio::time::sleep_until(next.into()).await;
                    }
                });
            }
        }
        // Let the noisy account empty its buckets first.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for (i, dev) in users.iter().enumerate() {
        let sb: [Sandbox; 4] = std::array::from_fn(|k| shared[k][i % SHARED].clone());
        let (dev, rounds, pause, http) = (dev.clone(), plan.rounds, plan.pause, env.http.clone());
        workers.spawn(async move {
            let mut out = Normal::default();
            let (mut cursor, mut version) = ("c0".to_owned(), 0);
            for _ in 0..rounds {
                round(&http, &sb, &dev, &mut cursor, &mut version, &mut out).await;
                tokio::time::sleep(pause).await;
            }
            out
        });
    }
    let mut results = Vec::new();
    while let Some(done) = workers.join_next().await {
        results.push(done?);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    while hammer.join_next().await.is_some() {}
    let mut normal = Normal::default();
    for r in results {
        for d in r.all.samples() {
            normal.all.push(d);
        }
        normal.refused += r.refused;
        normal.errors += r.errors;
    }
    Ok((normal, tally, elapsed))
}

pub async fn run(env: &BenchEnv, plan: &Plan) -> anyhow::Result<(Section, bool)> {
    let mut users = Vec::new();
    for i in 0..plan.users {
        users.push(env.new_user(&format!("fair-use-{i}")).await?);
    }
    let noisy = env.new_user("fair-use-noisy").await?;
    let (base, _, base_wall) = one_run(env, plan, &users, None).await?;
    let (loud, tally, loud_wall) = one_run(env, plan, &users, Some(&noisy)).await?;

    // A refused request, alone: its statements.
    let state = sandboxes(env, Endpoint::State, 1, Some(BUDGETS))
        .await?
        .remove(0);
    let mut refused_stmts = None;
    for _ in 0..200 {
        let t = call(&state, event(Endpoint::State, &[], None, &noisy.token)).await;
        if t.reply.status == 429 {
            refused_stmts = Some((t.statements, t.statement_log.join(" → ")));
            break;
        }
    }

    // The limiter's cost on a no-change state: the same request with and without it,
    // interleaved, on a user nobody else uses (a budget it never meets).
    let quiet = env.new_user("fair-use-quiet").await?;
    let big = Limit {
        burst: 10_000_000,
        per_minute: 10_000_000,
    };
    let on = sandboxes(
        env,
        Endpoint::State,
        1,
        Some(Budgets {
            read: big,
            write: big,
            download: big,
        }),
    )
    .await?
    .remove(0);
    let off = sandboxes(env, Endpoint::State, 1, None).await?.remove(0);
    let head = call(&off, event(Endpoint::State, &[], None, &quiet.token)).await;
    let cursor = head.reply.body["cursor"]
        .as_str()
        .unwrap_or("c0")
        .to_owned();
    let (mut with, mut without) = (Series::default(), Series::default());
    let (mut with_stmts, mut without_stmts) = (0, 0);
    for i in 0..plan.cost_samples + 5 {
        for (sb, series, stmts) in [
            (&on, &mut with, &mut with_stmts),
            (&off, &mut without, &mut without_stmts),
        ] {
            let t = call(
                sb,
                event(
                    Endpoint::State,
                    &[("cursor", cursor.clone())],
                    None,
                    &quiet.token,
                ),
            )
            .await;
            if i >= 5 && t.reply.status == 200 {
                series.push(t.elapsed);
                *stmts = t.statements;
            }
        }
    }

    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "n/a".into(),
    };
    let sent = tally.sent.load(Ordering::Relaxed);
    let refused = tally.refused.load(Ordering::Relaxed);
    let mut body = format!(
        "{} accounts, one device each, sync {} rounds each at once (a round: `state` from the cursor → `push` of one edited note → S3 PUT → `confirm` → `pull` of it; {} ms between rounds), through {SHARED} sandboxes per endpoint (pool of 1 each), handlers in-process as in part 4. The budgets of this part: reads {}/{} a minute, writes {}/{}, download URLs {}/{} (burst/refill; small, so ten times the refill is a load this 2-core machine can send next to the 50). The noisy account: {NOISY_TASKS} tasks per endpoint, each with a sandbox of its own, sending `state` at 100/s, `push` of one note at 20/s and `pull` of one file at 100/s in all (10× each refill), from 2 s before the 50 start until they finish. Latencies of the 50's API requests (all four kinds together), ms.\n\n",
        plan.users,
        plan.rounds,
        plan.pause.as_millis(),
        BUDGETS.read.burst,
        BUDGETS.read.per_minute,
        BUDGETS.write.burst,
        BUDGETS.write.per_minute,
        BUDGETS.download.burst,
        BUDGETS.download.per_minute,
    );
    body.push_str("| run | wall | the 50's requests | p50 | p99 | the 50's refused (429) | the 50's other errors |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (name, n, wall) in [
        ("without the noisy account", &base, base_wall),
        ("with the noisy account", &loud, loud_wall),
    ] {
        body.push_str(&format!(
            "| {name} | {:.1} s | {} | {} | {} | {} | {} |\n",
            wall.as_secs_f64(),
            n.all.len(),
            opt_ms(n.all.median_ms()),
            opt_ms(n.all.p99_ms()),
            n.refused,
            n.errors
        ));
    }
    body.push_str(&format!(
        "\n- With ÷ without: p50 {}, p99 {}.\n- The noisy account: {sent} requests sent, {} granted, {refused} refused with 429 `rate_limited` ({} of them with `Retry-After`), {} other answers.\n",
        ratio(loud.all.median_ms(), base.all.median_ms()),
        ratio(loud.all.p99_ms(), base.all.p99_ms()),
        tally.granted.load(Ordering::Relaxed),
        tally.refused_with_retry_after.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    ));
    match &refused_stmts {
        Some((n, log)) => body.push_str(&format!(
            "- A refused request, alone: {n} SQL statement(s): `{log}`.\n"
        )),
        None => body
            .push_str("- A refused request alone: none was refused in 200 tries (not measured).\n"),
    }
    body.push_str(&format!(
        "\n**The limiter's cost on a no-change `state`** (one account with a budget it never meets; the same request with `REQUEST_BUDGETS` on and off, interleaved, {} samples each after 5 warm-ups):\n\n| limiter | median ms | p99 ms | SQL statements |\n|---|---:|---:|---:|\n| on | {} | {} | {with_stmts} |\n| off | {} | {} | {without_stmts} |\n",
        plan.cost_samples,
        opt_ms(with.median_ms()), opt_ms(with.p99_ms()),
        opt_ms(without.median_ms()), opt_ms(without.p99_ms()),
    ));
    let ok = loud.refused == 0 && base.refused == 0 && refused > 0;
    let summary = format!(
        "Fair use: with one account at 10× its budgets, the other 50's p50 {} ms (without it {} ms), p99 {} ms ({} ms); 0 of theirs refused: {}; the noisy one {refused} of {sent} refused. A no-change `state` with the limiter {} ms, without {} ms (median).",
        opt_ms(loud.all.median_ms()),
        opt_ms(base.all.median_ms()),
        opt_ms(loud.all.p99_ms()),
        opt_ms(base.all.p99_ms()),
        loud.refused == 0,
        opt_ms(with.median_ms()),
        opt_ms(without.median_ms()),
    );
    Ok((
        Section {
            title: "9. Fair use".into(),
            body,
            summary,
        },
        ok,
    ))
}
