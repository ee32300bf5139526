//! Part 1, handler cost vs vault size: one user per vault size (seeded straight into
//! Postgres), the real handlers called in-process against the local Postgres and S3, one
//! request at a time, with the SQL statements of each request counted.
//!
//! Requests of one kind are measured round-robin over the vault sizes (round 1 on every
//! vault, then round 2, ...), so a noisy moment of the shared machine hits every size alike.
//! Writes edit existing files (new bytes, uploaded to S3 between push and confirm, so
//! confirm checks each object as it does for a real device), keeping every vault at its
//! size; deleted files are revived (untimed) right after each delete.

use std::collections::{BTreeMap, HashMap};

use crate::api::Sandbox;
use serde_json::{Value, json};

use crate::api::{self, Endpoint, Timed};
use crate::env::{BenchEnv, Device};
use crate::report::Section;
use crate::seed::{self, FileRec};
use crate::stats::{self, Series};

/// How much to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sizes: Vec<i64>,
    /// Rounds of the reads (state, pull) and of 1-file writes.
    pub rounds_small: usize,
    /// Rounds of 100-file writes.
    pub rounds_100: usize,
    /// Rounds of 1,000-file writes.
    pub rounds_1000: usize,
    /// S3 uploads in flight at once (the device's side, untimed).
    pub upload_concurrency: usize,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    StateNoChange,
    StateOneChange,
    StateFirstPage,
    PushConfirm(usize),
    Pull(usize),
    Delete(usize),
    Account,
}

/// The series in table order: (label, request files).
const SERIES: &[&str] = &[
    "state, no change since cursor",
    "state, 1 change since cursor",
    "state, full first page (no cursor)",
    "push 1 file",
    "push 100 files",
    "push 1,000 files",
    "confirm 1 file",
    "confirm 100 files",
    "confirm 1,000 files",
    "pull 100 paths",
    "delete 100 files",
    "account (not in the issue's list)",
];

/// Requests whose cost the design lets grow with the vault: reported, not flagged.
const MAY_GROW: &[&str] = &["account (not in the issue's list)"];

fn push_label(k: usize) -> &'static str {
    match k {
        1 => SERIES[3],
        100 => SERIES[4],
        _ => SERIES[5],
    }
}

fn confirm_label(k: usize) -> &'static str {
    match k {
        1 => SERIES[6],
        100 => SERIES[7],
        _ => SERIES[8],
    }
}

struct Vault {
    size: i64,
    dev: Device,
    files: Vec<FileRec>,
    next_edit: usize,
    next_pull: usize,
    next_delete: usize,
}

impl Vault {
    /// `k` indexes into the files, going round from `*next`.
    fn take(files: usize, next: &mut usize, k: usize) -> Vec<usize> {
        let out = (0..k).map(|j| (*next + j) % files).collect();
        *next = (*next + k) % files;
        out
    }
}

#[derive(Default)]
struct Measured {
    series: Series,
    statements: Vec<u64>,
    /// Statement summaries of the last sample.
    log: Vec<String>,
}

/// The measurements, by (series label, vault size).
#[derive(Default)]
pub struct Results {
    cells: BTreeMap<(usize, i64), Measured>,
    sizes: Vec<i64>,
}

impl Results {
    fn record(&mut self, label: &str, size: i64, timed: &Timed) {
        let idx = SERIES.iter().position(|s| *s == label).unwrap_or(0);
        let cell = self.cells.entry((idx, size)).or_default();
        cell.series.push(timed.elapsed);
        cell.statements.push(timed.statements);
        cell.log = timed.statement_log.clone();
    }

    fn cell(&self, label: &str, size: i64) -> Option<&Measured> {
        let idx = SERIES.iter().position(|s| *s == label)?;
        self.cells
            .get(&(idx, size))
            .filter(|m| !m.series.is_empty())
    }
}

fn check(cond: bool, what: &str, timed: &Timed) -> anyhow::Result<()> {
    if !cond {
        let body = timed.reply.body.to_string();
        let cut: String = body.chars().take(600).collect();
        anyhow::bail!("{what}: unexpected answer {} {cut}", timed.reply.status);
    }
    Ok(())
}

struct Bench<'a> {
    env: &'a BenchEnv,
    /// One warm sandbox's state per endpoint, as deployed (state and pull need no SQS, ...).
    state_fn: Sandbox,
    push_fn: Sandbox,
    confirm_fn: Sandbox,
    pull_fn: Sandbox,
    delete_fn: Sandbox,
    account_fn: Sandbox,
    plan: &'a Plan,
}

impl Bench<'_> {
    fn app(&self, endpoint: Endpoint) -> &Sandbox {
        match endpoint {
            Endpoint::State => &self.state_fn,
            Endpoint::Push => &self.push_fn,
            Endpoint::Confirm => &self.confirm_fn,
            Endpoint::Pull => &self.pull_fn,
            Endpoint::Delete => &self.delete_fn,
            Endpoint::Account => &self.account_fn,
            other => unreachable!("part 1 measures no {other:?}"),
        }
    }

    /// One request, timed. A request that queues a change notice gets an empty queue of its
    /// own (created and deleted untimed; see [`BenchEnv::new_queue`]).
    async fn call(
        &self,
        endpoint: Endpoint,
        query: &[(&str, String)],
        body: Option<&Value>,
        dev: &Device,
    ) -> anyhow::Result<Timed> {
        let e = api::event(endpoint, query, body, &dev.token);
        if !matches!(endpoint, Endpoint::Confirm | Endpoint::Delete) {
            return Ok(api::call(self.app(endpoint), e).await);
        }
        let queue = self.env.new_queue().await?;
        let sandbox = self.app(endpoint).with_queue(&queue);
        let timed = api::call(&sandbox, e).await;
        self.env.drop_queue(&queue).await?;
        Ok(timed)
    }

    /// Runs one operation on one vault; returns the timed requests by series label.
    async fn run(&self, op: Op, v: &mut Vault) -> anyhow::Result<Vec<(&'static str, Timed)>> {
        let n = v.files.len();
        match op {
            Op::StateNoChange | Op::StateOneChange => {
                let head = self.env.head(v.dev.user_id).await?;
                let (cursor, want, label) = match op {
                    Op::StateNoChange => (head, 0, SERIES[0]),
                    _ => (head - 1, 1, SERIES[1]),
                };
                let t = self
                    .call(
                        Endpoint::State,
                        &[("cursor", format!("c{cursor}"))],
                        None,
                        &v.dev,
                    )
                    .await?;
                check(
                    t.reply.status == 200 && t.reply.list("files").len() == want,
                    label,
                    &t,
                )?;
                Ok(vec![(label, t)])
            }
            Op::StateFirstPage => {
                let t = self.call(Endpoint::State, &[], None, &v.dev).await?;
                let want = n.min(steel_core::handlers::state::DEFAULT_LIMIT as usize);
                check(
                    t.reply.status == 200 && t.reply.list("files").len() == want,
                    SERIES[2],
                    &t,
                )?;
                Ok(vec![(SERIES[2], t)])
            }
            Op::Account => {
                let t = self.call(Endpoint::Account, &[], None, &v.dev).await?;
                check(
                    t.reply.status == 200 && t.reply.body["file_count"].as_i64() == Some(n as i64),
                    SERIES[11],
                    &t,
                )?;
                Ok(vec![(SERIES[11], t)])
            }
            Op::Pull(k) => {
                let picked = Vault::take(n, &mut v.next_pull, k);
                let paths: Vec<&str> = picked.iter().map(|&i| v.files[i].path.as_str()).collect();
                let t = self
                    .call(Endpoint::Pull, &[], Some(&json!({"paths": paths})), &v.dev)
                    .await?;
                check(
                    t.reply.status == 200 && t.reply.list("files").len() == k,
                    SERIES[9],
                    &t,
                )?;
                Ok(vec![(SERIES[9], t)])
            }
            Op::PushConfirm(k) => {
                let picked = Vault::take(n, &mut v.next_edit, k);
                let mut bytes_of = HashMap::new();
                let mut entries = Vec::with_capacity(k);
                for &i in &picked {
                    let f = &v.files[i];
                    let bytes = api::note_bytes(&f.path);
                    entries.push(api::file_entry(&f.path, f.version, &bytes));
                    bytes_of.insert(f.path.clone(), bytes);
                }
                let body = json!({ "files": entries });
                let pushed = self.call(Endpoint::Push, &[], Some(&body), &v.dev).await?;
                let uploads = pushed.reply.list("uploads");
                check(
                    pushed.reply.status == 200
                        && uploads.len() == k
                        && uploads.iter().all(|u| u["upload_url"].is_string()),
                    push_label(k),
                    &pushed,
                )?;
                api::upload_all(
                    &self.env.http,
                    uploads,
                    &bytes_of,
                    self.plan.upload_concurrency,
                )
                .await?;
                let confirmed = self
                    .call(Endpoint::Confirm, &[], Some(&body), &v.dev)
                    .await?;
                check(
                    confirmed.reply.status == 200 && confirmed.reply.list("confirmed").len() == k,
                    confirm_label(k),
                    &confirmed,
                )?;
                let by_path: HashMap<&str, &Value> = confirmed
                    .reply
                    .list("confirmed")
                    .iter()
                    .map(|c| (c["path"].as_str().unwrap_or_default(), c))
                    .collect();
                for &i in &picked {
                    let f = &mut v.files[i];
                    let c = by_path
                        .get(f.path.as_str())
                        .ok_or_else(|| anyhow::anyhow!("{} not confirmed", f.path))?;
                    f.version = c["version"].as_i64().unwrap_or(f.version + 1);
                    f.hash = c["content_hash"].as_str().unwrap_or_default().to_owned();
                    f.size = bytes_of.get(&f.path).map_or(f.size, |b| b.len() as i64);
                }
                Ok(vec![(push_label(k), pushed), (confirm_label(k), confirmed)])
            }
            Op::Delete(k) => {
                let picked = Vault::take(n, &mut v.next_delete, k);
                let entries: Vec<Value> = picked
                    .iter()
                    .map(|&i| json!({"path": v.files[i].path, "base_version": v.files[i].version}))
                    .collect();
                let t = self
                    .call(
                        Endpoint::Delete,
                        &[],
                        // Rounds of deletes (each revived untimed) pass the mass-delete
                        // guard's hourly count: confirmed, as a user who means it would.
                        Some(&json!({ "files": entries, "confirm_mass_delete": true })),
                        &v.dev,
                    )
                    .await?;
                check(
                    t.reply.status == 200 && t.reply.list("deleted").len() == k,
                    SERIES[10],
                    &t,
                )?;
                update_versions(v, &picked, t.reply.list("deleted"));
                self.revive(v, &picked).await?;
                Ok(vec![(SERIES[10], t)])
            }
        }
    }

    /// Brings deleted files back with their last bytes (known blobs: no upload), untimed.
    async fn revive(&self, v: &mut Vault, picked: &[usize]) -> anyhow::Result<()> {
        let entries: Vec<Value> = picked
            .iter()
            .map(|&i| {
                let f = &v.files[i];
                json!({"path": f.path, "base_version": f.version, "content_hash": f.hash,
                       "size_bytes": f.size})
            })
            .collect();
        let body = json!({ "files": entries });
        let pushed = self.call(Endpoint::Push, &[], Some(&body), &v.dev).await?;
        check(
            pushed.reply.status == 200
                && pushed.reply.list("uploads").len() == picked.len()
                && pushed
                    .reply
                    .list("uploads")
                    .iter()
                    .all(|u| u["upload_url"].is_null()),
            "revive: push of known bytes",
            &pushed,
        )?;
        let confirmed = self
            .call(Endpoint::Confirm, &[], Some(&body), &v.dev)
            .await?;
        check(
            confirmed.reply.status == 200
                && confirmed.reply.list("confirmed").len() == picked.len(),
            "revive: confirm",
            &confirmed,
        )?;
        update_versions(v, picked, confirmed.reply.list("confirmed"));
        Ok(())
    }
}

/// Takes the new versions of the `picked` files from an answer's entries.
fn update_versions(v: &mut Vault, picked: &[usize], entries: &[Value]) {
    let index: HashMap<String, usize> = picked
        .iter()
        .map(|&i| (v.files[i].path.clone(), i))
        .collect();
    for e in entries {
        if let (Some(i), Some(version)) = (
            e["path"].as_str().and_then(|p| index.get(p)),
            e["version"].as_i64(),
        ) {
            v.files[*i].version = version;
        }
    }
}

pub async fn run(env: &BenchEnv, plan: &Plan) -> anyhow::Result<Section> {
    let bench = Bench {
        env,
        state_fn: env.sandbox(Endpoint::State).await?,
        push_fn: env.sandbox(Endpoint::Push).await?,
        confirm_fn: env.sandbox(Endpoint::Confirm).await?,
        pull_fn: env.sandbox(Endpoint::Pull).await?,
        delete_fn: env.sandbox(Endpoint::Delete).await?,
        account_fn: env.sandbox(Endpoint::Account).await?,
        plan,
    };

    let seed_started = std::time::Instant::now();
    let mut vaults = Vec::new();
    for &size in &plan.sizes {
        let dev = env.new_user(&format!("bench-vault-{size}")).await?;
        let t = std::time::Instant::now();
        let files = seed::seed_files(&env.admin, dev.user_id, dev.device_id, "notes", size).await?;
        eprintln!(
            "[bench] part 1: seeded {} files in {:.1} s",
            stats::thousands(size as u64),
            t.elapsed().as_secs_f64()
        );
        vaults.push(Vault {
            size,
            dev,
            files,
            next_edit: 0,
            next_pull: 0,
            next_delete: 0,
        });
    }
    seed::analyze(&env.admin).await?;
    let seed_secs = seed_started.elapsed().as_secs_f64();

    let ops: Vec<(Op, usize)> = vec![
        (Op::StateNoChange, plan.rounds_small),
        (Op::StateOneChange, plan.rounds_small),
        (Op::StateFirstPage, plan.rounds_small),
        (Op::Pull(100), plan.rounds_small),
        (Op::PushConfirm(1), plan.rounds_small),
        (Op::PushConfirm(100), plan.rounds_100),
        (Op::PushConfirm(1000), plan.rounds_1000),
        (Op::Delete(100), plan.rounds_100),
        (Op::Account, plan.rounds_small),
    ];
    let mut results = Results {
        sizes: plan.sizes.clone(),
        ..Results::default()
    };
    for (op, rounds) in ops {
        let started = std::time::Instant::now();
        let need = match op {
            Op::PushConfirm(k) | Op::Pull(k) | Op::Delete(k) => k as i64,
            _ => 0,
        };
        // Warm-up: the first request of a kind primes the statement cache and connections
        // (cold starts are part 3); then the measured rounds.
        for round in 0..=rounds {
            for v in vaults.iter_mut().filter(|v| v.size >= need) {
                let timed = bench.run(op, v).await?;
                if round > 0 {
                    for (label, t) in &timed {
                        results.record(label, v.size, t);
                    }
                }
            }
        }
        eprintln!(
            "[bench] part 1: {op:?} x{rounds} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // How many connections the warm sandboxes hold: pools of at most 2, opened lazily.
    let held = env.function_connections().await?;
    Ok(report(&results, seed_secs, held))
}

/// The statement counts of a cell: "3", or "3–5" when they varied.
fn statements(m: &Measured) -> (String, bool) {
    let min = m.statements.iter().min().copied().unwrap_or(0);
    let max = m.statements.iter().max().copied().unwrap_or(0);
    if min == max {
        (min.to_string(), true)
    } else {
        (format!("{min}–{max}"), false)
    }
}

/// Medians of a series on the vault it is compared from and on the largest vault: (from
/// size, from median, largest median). The full first page holds min(files, 1,000) files,
/// so it is compared from the first vault with a full page.
fn growth(results: &Results, label: &str) -> Option<(i64, f64, f64)> {
    let sizes = &results.sizes;
    let largest = *sizes.last()?;
    let floor = if label == SERIES[2] {
        i64::from(steel_core::handlers::state::DEFAULT_LIMIT)
    } else {
        0
    };
    let from = sizes
        .iter()
        .copied()
        .filter(|s| *s >= floor && *s < largest)
        .find(|s| results.cell(label, *s).is_some())?;
    Some((
        from,
        results.cell(label, from)?.series.median_ms()?,
        results.cell(label, largest)?.series.median_ms()?,
    ))
}

/// Above this ratio of medians (largest vault ÷ smallest), a request "grows with the vault".
const GROWTH_LIMIT: f64 = 1.5;

/// The section (the README gets the table and the verdicts).
fn report(results: &Results, seed_secs: f64, held_connections: i64) -> Section {
    let sizes = &results.sizes;
    let largest = sizes.last().copied().unwrap_or(0);
    let mut table = String::new();
    let mut header = String::from("| request | n |");
    let mut rule = String::from("|---|---:|");
    for s in sizes {
        header.push_str(&format!(" {} files |", stats::thousands(*s as u64)));
        rule.push_str("---:|");
    }
    header.push_str(" SQL statements | largest ÷ smallest vault |\n");
    rule.push_str("---:|---:|\n");
    table.push_str(&header);
    table.push_str(&rule);

    let mut findings: Vec<String> = Vec::new();
    let mut verdicts: Vec<String> = Vec::new();
    let mut observations: Vec<String> = Vec::new();
    for label in SERIES {
        let cells: Vec<Option<&Measured>> = sizes.iter().map(|s| results.cell(label, *s)).collect();
        let Some(any) = cells.iter().flatten().next() else {
            continue;
        };
        let mut row = format!("| {label} | {} |", any.series.len());
        let mut counts = Vec::new();
        for cell in &cells {
            match cell {
                Some(m) => {
                    row.push_str(&format!(
                        " {} / {} |",
                        stats::opt_ms(m.series.median_ms()),
                        stats::opt_ms(m.series.p99_ms())
                    ));
                    counts.push(statements(m));
                }
                None => row.push_str(" n/a |"),
            }
        }
        let mut distinct: Vec<&String> = counts.iter().map(|(c, _)| c).collect();
        distinct.dedup();
        let sql = if distinct.len() == 1 && counts.iter().all(|(_, same)| *same) {
            distinct[0].clone()
        } else {
            let per_size: Vec<String> = counts.iter().map(|(c, _)| c.clone()).collect();
            findings.push(format!(
                "**{label}**: the SQL statement count is not constant: {} (by vault size).",
                per_size.join(", ")
            ));
            format!("{} ⚠", per_size.join(" / "))
        };
        let ratio = match growth(results, label) {
            Some((from, a, b)) if a > 0.0 => {
                let r = b / a;
                if r > GROWTH_LIMIT && MAY_GROW.contains(label) {
                    observations.push(format!(
                        "`GET /account` grows with the vault: median {} ms on {} files vs {} ms \
                         on {} files ({r:.2}×). It counts the live files on every call \
                         (`count(*)` over the user's `file_state` rows: a scan of all of them; \
                         the design promises nothing else), where a stored count, kept like \
                         `users.vault_size`, would make it O(1).",
                        stats::ms(b),
                        stats::thousands(largest as u64),
                        stats::ms(a),
                        stats::thousands(from as u64)
                    ));
                } else if r > GROWTH_LIMIT {
                    findings.push(format!(
                        "**{label}** grows with the vault: median {} ms on {} files vs {} ms on {} \
                         files ({r:.2}×).",
                        stats::ms(b),
                        stats::thousands(largest as u64),
                        stats::ms(a),
                        stats::thousands(from as u64)
                    ));
                }
                let mark = if r > GROWTH_LIMIT && !MAY_GROW.contains(label) {
                    " ⚠"
                } else {
                    ""
                };
                if *label == SERIES[2] {
                    format!("{r:.2}× (from {}){mark}", stats::thousands(from as u64))
                } else {
                    format!("{r:.2}×{mark}")
                }
            }
            _ => "–".into(),
        };
        row.push_str(&format!(" {sql} | {ratio} |\n"));
        table.push_str(&row);
    }

    // Statement counts must not grow with the files in the request either.
    for (family, labels) in [
        ("push", [SERIES[3], SERIES[4], SERIES[5]]),
        ("confirm", [SERIES[6], SERIES[7], SERIES[8]]),
    ] {
        let by_request: Vec<(&str, u64)> = labels
            .iter()
            .filter_map(|label| {
                let m = sizes.iter().rev().find_map(|s| results.cell(label, *s))?;
                Some((*label, *m.statements.iter().max()?))
            })
            .collect();
        let mut values: Vec<u64> = by_request.iter().map(|(_, c)| *c).collect();
        values.dedup();
        if values.len() > 1 {
            findings.push(format!(
                "**{family}**: the SQL statement count grows with the files in the request: {}.",
                by_request
                    .iter()
                    .map(|(l, c)| format!("{l}: {c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some((from, a, b)) = growth(results, SERIES[0]) {
        verdicts.push(format!(
            "A no-change `state` costs {} ms (median) on {} files and {} ms on {} files: {:.2}×.",
            stats::ms(b),
            stats::thousands(largest as u64),
            stats::ms(a),
            stats::thousands(from as u64),
            b / a
        ));
    }
    if findings.is_empty() {
        verdicts.push(format!(
            "As designed: every request of the issue's list costs about the same on the largest \
             vault as on the smallest (within {GROWTH_LIMIT}× of the median; the full first page compared from \
             1,000 files, as it returns min(files, 1,000) files), and issues the same number of \
             SQL statements whatever the vault size and the files in the request (1, 100, 1,000)."
        ));
    }

    let mut breakdown = String::from("| request | statements in order |\n|---|---|\n");
    for label in SERIES {
        if let Some(m) = sizes.iter().rev().find_map(|s| results.cell(label, *s)) {
            breakdown.push_str(&format!(
                "| {label} | {} |\n",
                m.log
                    .iter()
                    .map(|s| format!("`{}`", s.replace('|', "\\|")))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ));
        }
    }

    let mut body = format!(
        "One user per vault size, seeded straight into Postgres ({seed_secs:.0} s for all); the real \
         handlers called in-process through the API Gateway adapter (`runtime::handle_event`) \
         against the local Postgres and S3 (s3s-fs), one request at a time, round-robin over the \
         vault sizes, each endpoint with an app state of its own as deployed (a pool of at most \
         2 connections). Cells are **median / p99 in ms** (nearest rank: with n < 100, p99 is \
         the slowest sample); `n` samples per cell after one warm-up request per vault. Writes \
         edit existing files with new bytes: between push and confirm the bytes are PUT to S3 \
         (untimed, 16 at a time), so confirm checks every object (HeadObject, 16 at a time) as \
         for a real device, and queues its change notice on SQS. Each delete is followed \
         (untimed) by a push and confirm that revive the files, so every vault keeps its size. \
         `n/a`: the vault has fewer files than the request. SQL statements are counted from \
         sqlx's `sqlx::query` events, plus the `BEGIN` sqlx sends unlogged before each \
         `COMMIT`; the same count in every sample and every vault prints once.\n\n"
    );
    body.push_str(&table);
    body.push_str("\n**Scaling check**\n\n");
    for v in &verdicts {
        body.push_str(&format!("- {v}\n"));
    }
    for f in &findings {
        body.push_str(&format!("- NOT AS DESIGNED: {f}\n"));
    }
    for o in &observations {
        body.push_str(&format!("- Noted: {o}\n"));
    }
    body.push_str(&format!(
        "\nConnections: after the run the five warm sandboxes (state and account, push, \
         confirm, pull, delete; pools of at most 2) hold {held_connections} connections to \
         Postgres. A request that queries twice in a row opens the pool's second connection: \
         sqlx gives a released connection back through a spawned task that first pings the \
         server, so the next query does not find it idle yet. Each release also costs that \
         ping, a round trip off the request's path that the statement counts leave out.\n"
    ));
    body.push_str(&format!(
        "\nThe statements of one request (the {} files vault):\n\n",
        stats::thousands(largest as u64)
    ));
    body.push_str(&breakdown);
    let mut summary = String::from("Median / p99 ms per request, by files in the vault:\n\n");
    summary.push_str(&table);
    summary.push('\n');
    for v in &verdicts {
        summary.push_str(&format!("- {v}\n"));
    }
    for f in &findings {
        summary.push_str(&format!("- NOT AS DESIGNED: {f}\n"));
    }
    for o in &observations {
        summary.push_str(&format!("- Noted: {o}\n"));
    }
    Section {
        title: "1. Handler cost vs vault size".into(),
        body,
        summary,
    }
}
