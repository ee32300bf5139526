//! Part 8, connection fan-out (issue 17): 200 function instances against a server limited
//! to 20 connections, straight (the control: most cannot connect) and through PgBouncer 1.18
//! in transaction mode (`scripts/pgbouncer.sh`), with `DATABASE_PREPARED_STATEMENTS=false`
//! as the stack sets it behind RDS Proxy. The workers are part 4's "many users" workers
//! (push → S3 PUT → confirm); the run must show no error and no lost update.
//!
//! First, on the bench's own server, what unnamed statements cost: the same workload with
//! fewer workers, named statements (the default) and then unnamed. That order is forced:
//! the first pool built with the setting off switches the whole process to unnamed
//! statements (`steel_core::db::persistent`), which is also why this part runs last.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use sqlx::{Connection, PgConnection, PgPool};

use crate::concurrency::{self, Plan, ScenarioResult, TABLE_HEAD};
use crate::env::{BenchEnv, with_database};
use crate::report::Section;

/// The functions' role on the small server: not a superuser, so the server's reserved
/// slots stay free for the bench's own checks.
const ROLE: &str = "steel_app";
const UNNAMED: &[(&str, &str)] = &[("DATABASE_PREPARED_STATEMENTS", "false")];

pub struct Part8 {
    pub instances: usize,
    pub rounds: usize,
    /// The control's rounds: its failing requests each wait out the 5 s acquire timeout.
    pub control_rounds: usize,
    /// The statement-cost comparison on the main server.
    pub cost_workers: usize,
    pub cost_rounds: usize,
}

fn env_var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| {
        format!("{name} is not set: run part 8 through scripts/bench.sh (it starts scripts/pgbouncer.sh)")
    })
}

/// `url` (the superuser's) as the functions' role, on `database`.
fn as_role(url: &str, database: &str) -> anyhow::Result<String> {
    let url = url.replacen("postgres://postgres@", &format!("postgres://{ROLE}@"), 1);
    with_database(&url, database)
}

/// The most connections the functions' role held at once, sampled every 20 ms.
struct Sampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicI64>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(admin: PgPool) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicI64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                let n: Result<i64, _> =
                    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = $1")
                        .bind(ROLE)
                        .fetch_one(&admin)
                        .await;
                if let Ok(n) = n {
                    m.fetch_max(n, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Sampler { stop, max, task }
    }

    async fn finish(self) -> i64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.max.load(Ordering::Relaxed)
    }
}

/// Waits until the role holds no connection (the control's sandboxes are gone).
async fn drained(admin: &PgPool) -> anyhow::Result<()> {
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = $1")
            .bind(ROLE)
            .fetch_one(admin)
            .await?;
        if n == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the control's connections did not close")
}

fn plan(workers: usize, rounds: usize, tag: &str) -> Plan {
    let mut p = Plan::new(workers, rounds);
    p.connections = 1;
    p.tag = tag.into();
    p
}

fn error_list(r: &ScenarioResult) -> String {
    let mut kinds: Vec<(&String, &usize)> = r.errors().iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    kinds
        .iter()
        .take(4)
        .map(|(k, v)| format!("`{k}` ×{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn run(env: &BenchEnv, part: &Part8) -> anyhow::Result<(Section, bool)> {
    let pooler_url = env_var("STEEL_POOLER_URL")?;
    let direct_url = env_var("STEEL_POOLER_DIRECT_URL")?;
    let server_max = env_var("STEEL_POOLER_SERVER_MAX_CONNECTIONS")?;
    let pool_size = env_var("STEEL_POOLER_POOL_SIZE")?;
    let max_client = env_var("STEEL_POOLER_MAX_CLIENT_CONN")?;

    // 1. What unnamed statements cost, on the main server (named first: see the module doc).
    eprintln!("[bench] part 8: statement cost, named");
    let named =
        concurrency::many_users(env, &plan(part.cost_workers, part.cost_rounds, "named-")).await?;
    eprintln!("[bench] part 8: statement cost, unnamed");
    let mut unnamed_env = BenchEnv::create_at(env_var("DATABASE_URL")?).await?;
    let url = unnamed_env.db_url.clone();
    unnamed_env.functions_through(url, UNNAMED);
    let unnamed = concurrency::many_users(
        &unnamed_env,
        &plan(part.cost_workers, part.cost_rounds, "unnamed-"),
    )
    .await;
    if let Err(e) = unnamed_env.cleanup().await {
        eprintln!("[bench] WARNING: {e:#}");
    }
    let unnamed = unnamed?;

    // 2. The small server: the functions' role with its timeouts as role defaults (no
    // startup options through a pooler), and a bench database it may write.
    let mut admin = PgConnection::connect(&direct_url)
        .await
        .context("connecting to the small server (scripts/pgbouncer.sh start)")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(ROLE)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::raw_sql(&format!("CREATE ROLE {ROLE} LOGIN"))
            .execute(&mut admin)
            .await?;
    }
    sqlx::raw_sql(&format!(
        "ALTER ROLE {ROLE} SET statement_timeout = '6s';
         ALTER ROLE {ROLE} SET idle_in_transaction_session_timeout = '15s'"
    ))
    .execute(&mut admin)
    .await?;
    admin.close().await.ok();
    let mut small = BenchEnv::create_at(direct_url.clone()).await?;
    let result = fan_out(&mut small, part, &direct_url, &pooler_url).await;
    if let Err(e) = small.cleanup().await {
        eprintln!("[bench] WARNING: {e:#}");
    }
    let (control, control_max, through, through_max) = result?;

    // 3. The report.
    let mut ok = true;
    let mut table = String::from(TABLE_HEAD);
    table.push_str(&named.row(&format!(
        "{} users, named statements (default), main server",
        part.cost_workers
    )));
    table.push_str(&unnamed.row(&format!(
        "{} users, unnamed statements, main server",
        part.cost_workers
    )));
    table.push_str(&control.row(&format!(
        "{} instances straight to the 20-connection server (control)",
        part.instances
    )));
    table.push_str(&through.row(&format!("{} instances through PgBouncer", part.instances)));
    let mut notes = String::new();
    for (r, must_pass) in [(&named, true), (&unnamed, true), (&through, true)] {
        let errors: usize = r.errors().values().sum();
        if must_pass && errors > 0 {
            ok = false;
            notes.push_str(&format!(
                "- **FAILED: {}: {errors} errors**: {}\n",
                r.name,
                error_list(r)
            ));
        }
    }
    let control_errors: usize = control.errors().values().sum();
    notes.push_str(&format!(
        "- Control (straight to the server): {control_errors} errors (expected; not a failure \
         of the bench), most often {}; at most {control_max} connections of the functions' role \
         at once.\n",
        if control_errors == 0 {
            "none".to_owned()
        } else {
            error_list(&control)
        }
    ));
    notes.push_str(&format!(
        "- Through PgBouncer: at most {through_max} server connections of the functions' role at \
         once, for {} client connections (2 sandboxes per instance).\n",
        2 * part.instances
    ));
    for (label, r) in [("through PgBouncer", &through), ("control", &control)] {
        match &r.integrity {
            Ok(text) => notes.push_str(&format!("- {label}: no lost update: {text}.\n")),
            Err(text) if label == "control" => notes.push_str(&format!(
                "- control: {text} (its failed requests included).\n"
            )),
            Err(text) => {
                ok = false;
                notes.push_str(&format!("- **FAILED: {label}: {text}**\n"));
            }
        }
    }
    let body = format!(
        "Connection fan-out (issue 17). A throwaway PostgreSQL cluster with `max_connections = \
         {server_max}` (3 of them reserved for superusers), and PgBouncer 1.18 (Debian 12) in \
         front of it in `pool_mode = transaction`, `default_pool_size = {pool_size}`, \
         `max_client_conn = {max_client}`, `ignore_startup_parameters = extra_float_digits, \
         options` (`scripts/pgbouncer.sh`). {instances} function instances, part 4's workers \
         (one user each: push of 2 edited files → S3 PUT → confirm, {rounds} rounds, after one \
         warm-up request per sandbox; the control {control_rounds} rounds, as each of its failed \
         requests waits out the 5 s `DATABASE_ACQUIRE_TIMEOUT_MS`), each with its own `push` and `confirm` app state and a \
         pool of 1 connection, as role `{ROLE}` (not a superuser; its `statement_timeout` and \
         `idle_in_transaction_session_timeout` are role defaults, `ALTER ROLE ... SET`) and \
         `DATABASE_PREPARED_STATEMENTS=false`. The control runs the same instances straight \
         against the server. Before that, on the bench's main server (200 connections), \
         {cw} users with {cr} rounds each, once with named statements (the default) and once \
         with unnamed ones: the price of the setting. Latencies in ms, **median / p99**; \
         requests/s = API requests (push + confirm) per second of wall time; all on this \
         2-core machine next to Postgres, PgBouncer, S3 and SQS.\n\n{table}\n{notes}",
        instances = part.instances,
        rounds = part.rounds,
        control_rounds = part.control_rounds,
        cw = part.cost_workers,
        cr = part.cost_rounds,
    );
    let summary = format!(
        "{} instances against a server of {server_max} connections, through PgBouncer \
         (transaction mode) and straight; ms median / p99:\n\n{table}\n{notes}",
        part.instances
    );
    Ok((
        Section {
            title: "8. Through a transaction pooler".into(),
            body,
            summary,
        },
        ok,
    ))
}

/// The control, then the run through PgBouncer: results and the most connections held.
async fn fan_out(
    small: &mut BenchEnv,
    part: &Part8,
    direct_url: &str,
    pooler_url: &str,
) -> anyhow::Result<(ScenarioResult, i64, ScenarioResult, i64)> {
    sqlx::raw_sql(&format!(
        "GRANT USAGE ON SCHEMA public TO {ROLE};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}"
    ))
    .execute(&small.admin)
    .await
    .context("granting the functions' role its rights")?;

    eprintln!(
        "[bench] part 8: control, {} instances straight to the server",
        part.instances
    );
    small.functions_through(as_role(direct_url, &small.db_name)?, UNNAMED);
    let sampler = Sampler::start(small.admin.clone());
    let control = concurrency::many_users(
        small,
        &plan(part.instances, part.control_rounds, "control-"),
    )
    .await?;
    let control_max = sampler.finish().await;
    drained(&small.admin).await?;

    eprintln!(
        "[bench] part 8: {} instances through PgBouncer",
        part.instances
    );
    small.functions_through(as_role(pooler_url, &small.db_name)?, UNNAMED);
    let sampler = Sampler::start(small.admin.clone());
    let through =
        concurrency::many_users(small, &plan(part.instances, part.rounds, "pooled-")).await?;
    let through_max = sampler.finish().await;
    Ok((control, control_max, through, through_max))
}
