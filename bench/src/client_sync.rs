//! Part 2's closer look at the reference client: its no-change sync of the part's vault
//! (10,000 notes), repeated, with the steps the client reports itself (`steel-sync sync
//! --stats`: when the scan was done and how many notes it had to read, and when the first
//! plan was, the server's changes read meanwhile). `BENCH_CLIENT_BASELINE=<path of another steel-sync binary>` runs the same syncs
//! with that binary too, interleaved on the same vault: the client before and after a
//! change, side by side in one run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::e2e_rclone::steel_sync;
use crate::stats::{Series, ms};

/// One client's series of no-change syncs.
struct Client {
    label: String,
    bin: PathBuf,
    /// The whole process, start to exit.
    wall: Series,
    /// `syncer.sync()` alone, as the client timed it.
    inside: Series,
    scan: Series,
    plan: Series,
    /// (notes read, notes) of the last run.
    read: Option<(u64, u64)>,
    requests: Option<u64>,
}

impl Client {
    fn new(label: String, bin: PathBuf) -> Self {
        Client {
            label,
            bin,
            wall: Series::default(),
            inside: Series::default(),
            scan: Series::default(),
            plan: Series::default(),
            read: None,
            requests: None,
        }
    }

    /// One `steel-sync sync --quiet --stats`.
    fn run(&mut self, vault: &Path) -> anyhow::Result<()> {
        let started = Instant::now();
        let out = steel_sync(
            &self.bin,
            &["sync", vault.to_str().unwrap(), "--quiet", "--stats"],
        )?;
        self.wall.push(started.elapsed());
        let line = out
            .lines()
            .find(|l| l.starts_with("stats: "))
            .with_context(|| format!("no stats line in {out}"))?;
        let stats = StatsLine::parse(line).with_context(|| format!("unexpected: {line}"))?;
        self.inside.push(Duration::from_secs_f64(stats.total));
        self.requests = Some(stats.requests);
        // Older clients print no split.
        if let Some((scan, read, notes, plan)) = stats.split {
            self.scan.push(Duration::from_secs_f64(scan));
            self.plan.push(Duration::from_secs_f64(plan));
            self.read = Some((read, notes));
        }
        Ok(())
    }
}

/// What the client's `stats:` line says:
/// `stats: 0.031 s, 1 requests (api 1, s3 0), 0 bytes sent, 95 bytes received; scanned at
/// 0.012 s (0 of 10000 notes read), planned at 0.015 s` (the part after `;` is newer).
struct StatsLine {
    /// Seconds.
    total: f64,
    requests: u64,
    /// (scan done at, notes read, notes, plan done at), seconds from the start of the sync.
    split: Option<(f64, u64, u64, f64)>,
}

impl StatsLine {
    fn parse(line: &str) -> Option<Self> {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || "(),;".contains(c))
            .filter(|w| !w.is_empty())
            .collect();
        let number_before = |word: &str| -> Option<&str> {
            let i = words.iter().position(|w| *w == word)?;
            words.get(i.checked_sub(1)?).copied()
        };
        // `scanned at 0.012 s`
        let secs_at = |word: &str| -> Option<f64> {
            let i = words.iter().position(|w| *w == word)?;
            (*words.get(i + 1)? == "at").then_some(())?;
            words.get(i + 2)?.parse().ok()
        };
        let total = words.get(1)?.parse().ok()?;
        let requests = number_before("requests")?.parse().ok()?;
        let split = (|| {
            let scan = secs_at("scanned")?;
            let i = words.iter().position(|w| *w == "of")?;
            let read = words.get(i.checked_sub(1)?)?.parse().ok()?;
            let notes = words.get(i + 1)?.parse().ok()?;
            let plan = secs_at("planned")?;
            Some((scan, read, notes, plan))
        })();
        Some(StatsLine {
            total,
            requests,
            split,
        })
    }
}

fn median(s: &Series) -> String {
    s.median_ms()
        .map_or_else(|| "–".into(), |v| format!("{} ms", ms(v)))
}

/// `runs` no-change syncs of `vault` with `bin` (and with the baseline, interleaved): a
/// Markdown table, and the summary line for the README.
pub fn no_change(bin: &Path, vault: &Path, runs: usize) -> anyhow::Result<(String, String)> {
    let mut clients = vec![Client::new("this build".into(), bin.to_path_buf())];
    if let Some(base) = std::env::var_os("BENCH_CLIENT_BASELINE") {
        let base = PathBuf::from(base);
        anyhow::ensure!(
            base.exists(),
            "BENCH_CLIENT_BASELINE: {} is missing",
            base.display()
        );
        let name = base
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into());
        clients.push(Client::new(format!("baseline `{name}`"), base));
    }
    for _ in 0..runs {
        for c in &mut clients {
            c.run(vault)?;
        }
    }
    let mut table = String::from(
        "| client | wall time (process) | sync (in-process) | scan done at | notes read | plan done at | requests |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in &clients {
        table.push_str(&format!(
            "| {} | {} ({}–{}) | {} | {} | {} | {} | {} |\n",
            c.label,
            median(&c.wall),
            c.wall.min_ms().map_or("–".into(), ms),
            c.wall.max_ms().map_or("–".into(), ms),
            median(&c.inside),
            median(&c.scan),
            c.read
                .map_or_else(|| "–".into(), |(r, n)| format!("{r} of {n}")),
            median(&c.plan),
            c.requests.map_or_else(|| "–".into(), |r| r.to_string()),
        ));
    }
    let summary = clients
        .iter()
        .map(|c| {
            format!(
                "{}: {} in-process, {} wall",
                c.label,
                median(&c.inside),
                median(&c.wall)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Ok((table, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stats_line_of_new_and_old_clients() {
        let new = StatsLine::parse(
            "stats: 0.031 s, 1 requests (api 1, s3 0), 0 bytes sent, 95 bytes received; \
             scanned at 0.012 s (3 of 10000 notes read), planned at 0.015 s",
        )
        .unwrap();
        assert_eq!((new.total, new.requests), (0.031, 1));
        assert_eq!(new.split, Some((0.012, 3, 10_000, 0.015)));
        let old = StatsLine::parse(
            "stats: 0.270 s, 10 requests (api 10, s3 0), 0 bytes sent, 2779 bytes received",
        )
        .unwrap();
        assert_eq!((old.total, old.requests), (0.270, 10));
        assert!(old.split.is_none());
    }
}
