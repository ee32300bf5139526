//! Part 5: getting notes back on a vault of 10,000 notes, through the real handlers as in
//! part 1: a note's history (103 versions), the first page of deleted notes (1,000 deleted),
//! a one-file restore, and a rewind of the whole vault after every note was deleted; median,
//! p99 and the SQL statements of each request (the rewind's per page of 1,000 notes).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{self, Endpoint, Sandbox, Timed};
use crate::env::{BenchEnv, Device};
use crate::report::Section;
use crate::seed::{self, FileRec};
use crate::stats::{self, Series};

/// Notes per rewind page, and per delete request while preparing.
const PAGE: usize = 1_000;

#[derive(Default)]
struct Row {
    series: Series,
    statements: Vec<u64>,
}

impl Row {
    fn add(&mut self, t: &Timed) {
        self.series.push(t.elapsed);
        self.statements.push(t.statements);
    }

    fn line(&self, label: &str) -> String {
        let min = self.statements.iter().min().copied().unwrap_or(0);
        let max = self.statements.iter().max().copied().unwrap_or(0);
        let statements = if min == max {
            min.to_string()
        } else {
            format!("{min}–{max}")
        };
        format!(
            "| {label} | {} | {} | {} | {statements} |\n",
            self.series.len(),
            ms(self.series.median_ms()),
            ms(self.series.p99_ms()),
        )
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.1}"))
}

struct Bench {
    history: Sandbox,
    deleted: Sandbox,
    restore: Sandbox,
    delete: Sandbox,
    dev: Device,
}

impl Bench {
    async fn call(
        &self,
        env: &BenchEnv,
        endpoint: Endpoint,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Timed> {
        let sandbox = match endpoint {
            Endpoint::History => &self.history,
            Endpoint::Deleted => &self.deleted,
            Endpoint::Restore => &self.restore,
            _ => &self.delete,
        };
        let e = api::event(endpoint, query, body, &self.dev.token);
        if matches!(endpoint, Endpoint::History | Endpoint::Deleted) {
            return Ok(api::call(sandbox, e).await);
        }
        let queue = env.new_queue().await?;
        let t = api::call(&sandbox.with_queue(&queue), e).await;
        env.drop_queue(&queue).await?;
        Ok(t)
    }

    /// Deletes `files` (confirmed as a mass delete), untimed; updates their versions.
    async fn delete_all(&self, env: &BenchEnv, files: &mut [FileRec]) -> anyhow::Result<()> {
        for chunk in files.chunks_mut(PAGE) {
            let entries: Vec<Value> = chunk
                .iter()
                .map(|f| json!({"path": f.path, "base_version": f.version}))
                .collect();
            let body = json!({"files": entries, "confirm_mass_delete": true});
            let t = self.call(env, Endpoint::Delete, &[], Some(&body)).await?;
            anyhow::ensure!(
                t.reply.list("deleted").len() == chunk.len(),
                "delete: {}",
                t.reply.describe()
            );
            for f in chunk.iter_mut() {
                f.version += 1;
            }
        }
        Ok(())
    }
}

pub async fn run(env: &BenchEnv, quick: bool) -> anyhow::Result<Section> {
    let (notes, rounds, rewinds) = if quick {
        (1_000, 5, 1)
    } else {
        (10_000, 50, 3)
    };
    let dev = env.new_user("bench-recovery").await?;
    let mut files =
        seed::seed_files(&env.admin, dev.user_id, dev.device_id, "notes", notes).await?;
    seed::analyze(&env.admin).await?;
    let bench = Bench {
        history: env.sandbox(Endpoint::History).await?,
        deleted: env.sandbox(Endpoint::Deleted).await?,
        restore: env.sandbox(Endpoint::Restore).await?,
        delete: env.sandbox(Endpoint::Delete).await?,
        dev,
    };
    let mut restore = Row::default();
    let mut history = Row::default();
    let mut deleted = Row::default();
    let mut rewind_page = Row::default();
    let mut rewind_total = Series::default();

    // A one-file restore, `rounds` times on one note: deleted (untimed), then version 1
    // brought back (timed), so each restore writes a version; the note's history grows to
    // 2 × rounds + 3 versions, which `history` then reads a page of.
    let target = files[0].path.clone();
    let mut head = files[0].version;
    for round in 0..=rounds {
        bench.delete_all(env, &mut files[..1]).await?;
        head += 1;
        let body = json!({"files": [{"path": target, "version": 1, "base_version": head}]});
        let t = bench.call(env, Endpoint::Restore, &[], Some(&body)).await?;
        let done = t.reply.list("restored");
        anyhow::ensure!(done.len() == 1, "restore: {}", t.reply.describe());
        head = done[0]["version"].as_i64().unwrap_or(head + 1);
        files[0].version = head;
        if round > 0 {
            restore.add(&t);
        }
    }
    for round in 0..=rounds {
        let q = [("path", target.clone()), ("limit", "100".to_owned())];
        let t = bench.call(env, Endpoint::History, &q, None).await?;
        anyhow::ensure!(
            t.reply.list("versions").len() as i64 == head.min(100),
            "history page"
        );
        if round > 0 {
            history.add(&t);
        }
    }

    // 1,000 deleted notes; the first page (100) of them.
    let split = files.len() / 10;
    bench.delete_all(env, &mut files[1..=split]).await?;
    for round in 0..=rounds {
        let t = bench.call(env, Endpoint::Deleted, &[], None).await?;
        anyhow::ensure!(t.reply.list("files").len() == 100, "deleted");
        if round > 0 {
            deleted.add(&t);
        }
    }

    // Every live note deleted, then the vault rewound to just before: all come back.
    for _ in 0..rewinds {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let as_of = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let live_from = split + 1;
        bench.delete_all(env, &mut files[live_from..]).await?;
        let mut restored = 0;
        let mut resume: Option<String> = None;
        let started = Instant::now();
        loop {
            let body = json!({"as_of": as_of, "limit": PAGE, "resume": resume});
            let t = bench.call(env, Endpoint::Restore, &[], Some(&body)).await?;
            anyhow::ensure!(t.reply.status == 200, "rewind: {}", t.reply.describe());
            rewind_page.add(&t);
            restored += t.reply.body["restored"].as_u64().unwrap_or(0);
            resume = t.reply.body["resume"].as_str().map(str::to_owned);
            if t.reply.body["has_more"] != true {
                break;
            }
        }
        rewind_total.push(started.elapsed());
        let want = (files.len() - live_from) as u64;
        anyhow::ensure!(restored == want, "rewind restored {restored} of {want}");
        for f in &mut files[live_from..] {
            f.version += 1;
        }
    }

    let mut body = format!(
        "A vault of {} notes seeded straight into Postgres; the handlers called in-process as \
         in part 1. Milliseconds inside the handler; statements as counted from sqlx's events.\n\n\
         | request | n | median ms | p99 ms | SQL statements |\n|---|---|---|---|---|\n",
        stats::thousands(notes as u64)
    );
    body += &history.line(&format!(
        "history of one note ({head} versions, a page of 100)"
    ));
    body += &deleted.line("deleted, first page (100 of 1,000 deleted notes)");
    body += &restore.line("restore 1 file (a deleted note brought back)");
    body += &rewind_page.line("rewind, one page of 1,000 notes");
    let whole = ms(rewind_total.median_ms());
    body += &format!(
        "\nRewinding all {} notes deleted since `as_of` (each page one transaction): {whole} ms \
         (median of {} rewinds), every note back.\n",
        stats::thousands((files.len() - split - 1) as u64),
        rewind_total.len()
    );
    Ok(Section {
        title: "5. Getting notes back".into(),
        summary: format!(
            "On {} notes: history {} ms, deleted {} ms, restore of 1 file {} ms (medians); \
             rewind {whole} ms for the whole vault, {} ms per page of 1,000.",
            stats::thousands(notes as u64),
            ms(history.series.median_ms()),
            ms(deleted.series.median_ms()),
            ms(restore.series.median_ms()),
            ms(rewind_page.series.median_ms()),
        ),
        body,
    })
}
