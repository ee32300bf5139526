//! Part 2's closer look at the reference client: its no-change sync of the part's vault
//! (10,000 notes), repeated, with the steps the client reports itself (`steel-sync sync
//! --stats`: when the scan was done and how many notes it had to read, and when the first
//! plan was, the server's changes read meanwhile). `BENCH_CLIENT_BASELINE=<path of another steel-sync binary>` runs the same syncs
//! with that binary too, interleaved on the same vault: the client before and after a
//! change, side by side in one run.
//!
//! The apps' engine (issue 27): with `BENCH_KOTLIN_CLASSPATH` and `BENCH_KOTLIN_LIB` (set by
//! scripts/bench.sh, which builds the `steel-sync-ffi` cdylib in the same profile and compiles
//! the Kotlin bindings with `client/ffi/kotlin/bench/NoChange.kt`), the same no-change sync of
//! the same notes through `SyncEngine.syncNow()`, timed in Kotlin, on a copy of the vault's
//! notes signed in as a device of its own; its median against the CLI's in-process one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::e2e_rclone::{copy_tree, steel_sync};
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

/// Where the Kotlin bench program and the cdylib it loads are (scripts/bench.sh).
struct KotlinBench {
    classpath: String,
    lib_dir: String,
}

impl KotlinBench {
    fn from_env() -> Option<Self> {
        Some(KotlinBench {
            classpath: std::env::var("BENCH_KOTLIN_CLASSPATH").ok()?,
            lib_dir: std::env::var("BENCH_KOTLIN_LIB").ok()?,
        })
    }

    /// `runs` no-change `syncNow()` calls from Kotlin on a copy of `vault`'s notes, signed
    /// in as a new device of `sub`: their times.
    fn run(&self, vault: &Path, api: &str, sub: &str, runs: usize) -> anyhow::Result<Series> {
        let work = tempfile::tempdir()?;
        let copy = work.path().join("kotlin");
        copy_tree(vault, &copy)?;
        let token = dev_token::DevToken::apple(sub)
            .mint()
            .map_err(|e| anyhow::anyhow!(e))?;
        let out = std::process::Command::new("java")
            .arg(format!("-Djna.library.path={}", self.lib_dir))
            .args(["-cp", &self.classpath, "app.steelnotes.bench.NoChangeKt"])
            .arg(&copy)
            .args([api, &token, &runs.to_string()])
            .output()
            .context("running java (the Kotlin bench)")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        anyhow::ensure!(
            out.status.success(),
            "the Kotlin bench failed: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut series = Series::default();
        for line in stdout.lines().filter_map(|l| l.strip_prefix("sync ")) {
            let secs: f64 = line
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("unexpected Kotlin bench line: sync {line}"))?;
            series.push(Duration::from_secs_f64(secs));
        }
        anyhow::ensure!(series.len() == runs, "the Kotlin bench printed {stdout}");
        Ok(series)
    }
}

/// `runs` no-change syncs of `vault` with `bin` (and with the baseline, interleaved; and
/// through the Kotlin binding when scripts/bench.sh built it): a Markdown table, and the
/// summary line for the README.
pub fn no_change(
    bin: &Path,
    vault: &Path,
    api: &str,
    sub: &str,
    runs: usize,
) -> anyhow::Result<(String, String)> {
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
    let mut summary = clients
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
    match KotlinBench::from_env() {
        Some(kotlin) => {
            let series = kotlin.run(vault, api, sub, runs)?;
            let ratio = match (series.median_ms(), clients[0].inside.median_ms()) {
                (Some(k), Some(cli)) if cli > 0.0 => format!("{:.2}×", k / cli),
                _ => "–".into(),
            };
            table.push_str(&format!(
                "| Kotlin binding, `SyncEngine.syncNow()` timed in Kotlin | – | {} ({}–{}), {ratio} the CLI's | – | – | – | – |\n",
                median(&series),
                series.min_ms().map_or("–".into(), ms),
                series.max_ms().map_or("–".into(), ms),
            ));
            summary.push_str(&format!(
                "; Kotlin binding: {} ({ratio} the CLI's in-process)",
                median(&series)
            ));
        }
        None => table.push_str(
            "\n(The Kotlin binding was not measured: BENCH_KOTLIN_CLASSPATH is not set.)\n",
        ),
    }
    if let Some(bytes) = std::env::var("BENCH_CDYLIB_BYTES")
        .ok()
        .and_then(|b| b.parse::<u64>().ok())
    {
        let mib = bytes as f64 / (1024.0 * 1024.0);
        table.push_str(&format!(
            "\nThe apps' engine as shipped: `libsteel_sync_ffi.so` for this host (x86_64 Linux, \
             `release` profile: fat LTO, one codegen unit, stripped) is {bytes} bytes \
             ({mib:.1} MiB). The Android arm64 library is not built here: the Android NDK (its \
             linker and bionic sysroot) and Rust's `aarch64-linux-android` standard library are \
             in none of the registries this machine reaches.\n"
        ));
        summary.push_str(&format!(
            "; the host's release cdylib {mib:.1} MiB stripped"
        ));
    }
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
