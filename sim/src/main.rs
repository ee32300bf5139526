//! `steel-sim`: runs the deterministic simulation over many seeds until a number of
//! simulated operations (world ops plus the API and bucket requests they made) is reached,
//! or replays one seed. A failure prints its seed, the shrunk trace and the command that
//! replays it, and exits 1.
//!
//! ```text
//! steel-sim [--ops N] [--ops-per-seed N] [--first-seed S] [--budget SECS]
//! steel-sim --seed S [--ops-per-seed N] [--keep 0-3,7] [--verbose]
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use steel_sim::run::{self, Failure, parse_ranges, ranges};

struct Args {
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
        "-- replay: cargo run -p steel-sim --profile sim -- --seed {seed} --ops-per-seed {per_seed}{keep} --verbose"
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
    let (mut world_ops, mut requests, mut syncs, mut seeds) = (0u64, 0u64, 0u64, 0u64);
    let mut seed = args.first_seed;
    while world_ops + requests < args.ops && args.budget.is_none_or(|b| started.elapsed() < b) {
        let outcome = run::run(seed, args.per_seed, None, false);
        world_ops += outcome.ops;
        requests += outcome.requests;
        syncs += outcome.syncs;
        seeds += 1;
        if let Some(f) = &outcome.failure {
            println!(
                "after {:.1} s and {seeds} seeds:",
                started.elapsed().as_secs_f64()
            );
            report(seed, args.per_seed, f, args.shrink);
            return ExitCode::FAILURE;
        }
        seed += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let total = world_ops + requests;
    println!(
        "simulation: {total} operations ({world_ops} world ops, {requests} requests, {syncs} syncs) \
         over {seeds} seeds ({}..={}) in {secs:.1} s: {:.0} operations/s; every invariant held",
        args.first_seed,
        seed - 1,
        total as f64 / secs.max(1e-9)
    );
    ExitCode::SUCCESS
}
