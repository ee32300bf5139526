//! `steel-sim`: runs the deterministic simulation over many seeds until a number of
//! simulated operations (world ops plus the API and bucket requests they made) is reached,
//! or replays one seed. A failure prints its seed, the shrunk trace and the command that
//! replays it, and exits 1.
//!
//! ```text
//! steel-sim [--ops N] [--ops-per-seed N] [--first-seed S] [--budget SECS] [--jobs N]
//! steel-sim --seed S [--ops-per-seed N] [--keep 0-3,7] [--verbose]
//! ```

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use steel_sim::run::{self, Failure, parse_ranges, ranges};
use steel_sim::vault::is_encrypted;
use steel_sim::world::Rates;

/// Counts over every seed run, from every thread.
#[derive(Default)]
struct Totals {
    world_ops: AtomicU64,
    requests: AtomicU64,
    syncs: AtomicU64,
    seeds: AtomicU64,
    /// Simulated operations and thread time (µs) of encrypted and of plaintext seeds.
    by_mode: [(AtomicU64, AtomicU64); 2],
}

impl Totals {
    fn add(&self, o: &run::Outcome, encrypted: bool, took: Duration) {
        let (ops, micros) = &self.by_mode[usize::from(encrypted)];
        ops.fetch_add(o.ops + o.requests, Ordering::Relaxed);
        let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        micros.fetch_add(took, Ordering::Relaxed);
        self.world_ops.fetch_add(o.ops, Ordering::Relaxed);
        self.requests.fetch_add(o.requests, Ordering::Relaxed);
        self.syncs.fetch_add(o.syncs, Ordering::Relaxed);
        self.seeds.fetch_add(1, Ordering::Relaxed);
    }

    /// Simulated operations: world ops and the requests they made.
    fn ops(&self) -> u64 {
        self.world_ops.load(Ordering::Relaxed) + self.requests.load(Ordering::Relaxed)
    }

    fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.world_ops.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
            self.syncs.load(Ordering::Relaxed),
            self.seeds.load(Ordering::Relaxed),
        )
    }

    /// "plaintext seeds N ops/s, encrypted M ops/s" per thread (one core each).
    fn rates(&self) -> String {
        let rate = |i: usize| {
            let (ops, micros) = &self.by_mode[i];
            let (ops, micros) = (ops.load(Ordering::Relaxed), micros.load(Ordering::Relaxed));
            format!(
                "{ops} ops at {:.0} ops/s",
                ops as f64 * 1e6 / micros.max(1) as f64
            )
        };
        format!(
            "per core: plaintext seeds {}, encrypted seeds {}",
            rate(0),
            rate(1)
        )
    }
}

struct Args {
    jobs: usize,
    ops: u64,
    per_seed: usize,
    first_seed: u64,
    budget: Option<Duration>,
    seed: Option<u64>,
    keep: Option<Vec<usize>>,
    verbose: bool,
    shrink: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ops: 1_000_000,
        per_seed: 400,
        first_seed: 1,
        budget: None,
        seed: None,
        keep: None,
        verbose: false,
        shrink: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{v}: {e}"))
        };
        match flag.as_str() {
            "--jobs" => args.jobs = number(value()?)? as usize,
            "--ops" => args.ops = number(value()?)?,
            "--ops-per-seed" => args.per_seed = number(value()?)? as usize,
            "--first-seed" => args.first_seed = number(value()?)?,
            "--budget" => args.budget = Some(Duration::from_secs(number(value()?)?)),
            "--seed" => args.seed = Some(number(value()?)?),
            "--keep" => {
                let v = value()?;
                args.keep = Some(parse_ranges(&v).ok_or_else(|| format!("--keep {v}"))?);
            }
            "--verbose" | "-v" => args.verbose = true,
            "--no-shrink" => args.shrink = false,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn report(seed: u64, per_seed: usize, failure: &Failure, shrink: bool) {
    let at = failure
        .at
        .map_or("at quiescence".to_owned(), |i| format!("at op {i}"));
    println!(
        "SIMULATION FAILED: seed {seed} ({per_seed} ops), {at}: {}",
        failure.why
    );
    println!("-- the trace's end:");
    for line in &failure.trace {
        println!("{line}");
    }
    let keep = if shrink {
        let keep = run::shrink(seed, per_seed, failure, Duration::from_secs(90));
        let shrunk = run::run(seed, per_seed, Some(&keep), false);
        println!("-- shrunk to {} ops ({}):", keep.len(), ranges(&keep));
        if let Some(f) = &shrunk.failure {
            println!("   fails with: {}", f.why);
            for line in &f.trace {
                println!("{line}");
            }
        }
        format!(" --keep {}", ranges(&keep))
    } else {
        String::new()
    };
    println!(
        "-- replay: cargo run --bin steel-sim -- --seed {seed} --ops-per-seed {per_seed}{keep} --verbose"
    );
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("steel-sim: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.seed {
        let outcome = run::run(seed, args.per_seed, args.keep.as_deref(), args.verbose);
        return match &outcome.failure {
            Some(f) => {
                report(seed, args.per_seed, f, args.shrink && args.keep.is_none());
                ExitCode::FAILURE
            }
            None => {
                println!(
                    "seed {seed}: {} ops, {} requests, {} syncs: every invariant held",
                    outcome.ops, outcome.requests, outcome.syncs
                );
                ExitCode::SUCCESS
            }
        };
    }
    let started = Instant::now();
    let totals = Totals::default();
    let next_seed = AtomicU64::new(args.first_seed);
    let failed: Mutex<Option<(u64, Failure)>> = Mutex::new(None);
    let jobs = args.jobs.max(1);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                while totals.ops() < args.ops
                    && args.budget.is_none_or(|b| started.elapsed() < b)
                    && failed.lock().is_ok_and(|f| f.is_none())
                {
                    let seed = next_seed.fetch_add(1, Ordering::Relaxed);
                    let began = Instant::now();
                    let outcome = run::run(seed, args.per_seed, None, false);
                    let encrypted = is_encrypted(seed, Rates::default().encrypted_every);
                    totals.add(&outcome, encrypted, began.elapsed());
                    if let Some(f) = outcome.failure
                        && let Ok(mut slot) = failed.lock()
                    {
                        // The lowest failing seed is the one reported.
                        if slot.as_ref().is_none_or(|(s, _)| seed < *s) {
                            *slot = Some((seed, f));
                        }
                    }
                }
            });
        }
    });
    let (world_ops, requests, syncs, seeds) = totals.get();
    if let Some((seed, f)) = failed.into_inner().ok().flatten() {
        println!(
            "after {:.1} s and {seeds} seeds:",
            started.elapsed().as_secs_f64()
        );
        report(seed, args.per_seed, &f, args.shrink);
        return ExitCode::FAILURE;
    }
    let secs = started.elapsed().as_secs_f64();
    let total = world_ops + requests;
    println!(
        "simulation: {total} operations ({world_ops} world ops, {requests} requests, {syncs} syncs) \
         over {seeds} seeds ({}..={}, {jobs} at a time) in {secs:.1} s: {:.0} operations/s; every \
         invariant held ({})",
        args.first_seed,
        args.first_seed + seeds - 1,
        total as f64 / secs.max(1e-9),
        totals.rates()
    );
    ExitCode::SUCCESS
}
