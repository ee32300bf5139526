//! Runs: a seed becomes a list of ops (each with its own seed, so leaving ops out of a list
//! leaves the others' randomness alone), the world carries them out and then quiesces; a
//! failure is shrunk by leaving out ever smaller runs of ops while it still fails, and
//! printed with the command that replays it.

use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use steel_sync::SyncReport;

use crate::world::{Kind, Op, Rates, World};

/// How often each kind of op comes, out of their sum.
const WEIGHTS: [(Kind, u32); 16] = [
    (Kind::Create, 120),
    (Kind::Edit, 220),
    (Kind::Rewrite, 30),
    (Kind::Rename, 40),
    (Kind::Delete, 50),
    (Kind::Wipe, 6),
    (Kind::Import, 4),
    (Kind::Sync, 250),
    (Kind::Begin, 60),
    (Kind::Finish, 60),
    (Kind::SyncRestoreMissing, 8),
    (Kind::SyncAllowMassDelete, 6),
    (Kind::Restore, 25),
    (Kind::Replace, 4),
    (Kind::Janitor, 6),
    (Kind::Deliver, 20),
];

/// The ops of a seed, and how many devices it has.
pub fn plan(seed: u64, n: usize) -> (usize, Vec<Op>) {
    plan_with(seed, n, Rates::default())
}

/// [`plan`] at other rates: a share of the restores become rewinds, drawn from each op's
/// own seed (at a rate of 0, the ops are as they were before rewinds were simulated).
pub fn plan_with(seed: u64, n: usize, rates: Rates) -> (usize, Vec<Op>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let devices = rng.random_range(2..=4);
    let total: u32 = WEIGHTS.iter().map(|(_, w)| w).sum();
    let migrating = crate::migrate::is_migrating(seed, &rates);
    let ops = (0..n)
        .map(|_| {
            let mut roll = rng.random_range(0..total);
            let kind = WEIGHTS
                .iter()
                .find(|(_, w)| {
                    let hit = roll < *w;
                    roll = roll.saturating_sub(*w);
                    hit
                })
                .map_or(Kind::Sync, |(k, _)| *k);
            // Drawn in this order since the first runs: the device, then the op's seed.
            let device = rng.random_range(0..devices);
            let seed: u64 = rng.random();
            let rewinds = kind == Kind::Restore
                && ChaCha8Rng::seed_from_u64(seed ^ 0x003e_31d0).random_bool(rates.rewind);
            let migrates =
                kind == Kind::Sync && migrating && crate::migrate::runs_migration(seed, &rates);
            Op {
                kind: match (rewinds, migrates) {
                    (true, _) => Kind::Rewind,
                    (_, true) => Kind::Migrate,
                    _ => kind,
                },
                device,
                seed,
            }
        })
        .collect();
    (devices, ops)
}

/// Which invariant a failure broke (shrinking keeps to the same one).
pub fn kind_of(why: &str) -> &'static str {
    const KINDS: [(&str, &str); 9] = [
        ("lines lost", "lost write"),
        ("the rewind", "rewind"),
        ("still had work", "no quiescence"),
        ("came back", "revert"),
        ("did not converge", "divergence"),
        ("guarded sync", "guard"),
        ("held", "guard"),
        ("migration", "migration"),
        ("failed", "error"),
    ];
    KINDS
        .iter()
        .find(|(needle, _)| why.contains(needle))
        .map_or("server", |(_, kind)| kind)
}

/// A run's failure: where (an op index, or `None` at quiescence) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub at: Option<usize>,
    pub why: String,
    pub trace: Vec<String>,
}

/// What one run did.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub ops: u64,
    pub requests: u64,
    pub syncs: u64,
    pub failure: Option<Failure>,
}

/// Runs the ops of `seed` whose indices `keep` names (all when `None`).
pub fn run(seed: u64, n: usize, keep: Option<&[usize]>, verbose: bool) -> Outcome {
    run_with(seed, n, keep, verbose, Rates::default())
}

/// [`run`] at other fault rates.
pub fn run_with(
    seed: u64,
    n: usize,
    keep: Option<&[usize]>,
    verbose: bool,
    rates: Rates,
) -> Outcome {
    let (devices, ops) = plan_with(seed, n, rates);
    let mut world = World::new(seed, devices, rates, verbose);
    let mut outcome = Outcome::default();
    let indices: Vec<usize> = keep.map_or_else(|| (0..n).collect(), <[usize]>::to_vec);
    let fail = |world: &World, at, why| Failure {
        at,
        why,
        trace: world.shared().trace_tail(60).to_vec(),
    };
    for (k, &i) in indices.iter().enumerate() {
        let Some(op) = ops.get(i) else { continue };
        outcome.ops += 1;
        let mut result = world.step(i, *op);
        if result.is_ok() && k % 64 == 63 {
            result = world.shared().server.check();
        }
        if let Err(why) = result {
            outcome.failure = Some(fail(&world, Some(i), why));
            break;
        }
    }
    if outcome.failure.is_none()
        && let Err(why) = world.quiesce()
    {
        outcome.failure = Some(fail(&world, None, why));
    }
    outcome.requests = world.shared().requests;
    outcome.syncs = world.syncs;
    outcome
}

/// Leaves out ever smaller runs of ops while the run still fails; answers the shortest
/// list of op indices found within `budget`.
pub fn shrink(seed: u64, n: usize, failure: &Failure, budget: Duration) -> Vec<usize> {
    let started = Instant::now();
    let mut keep: Vec<usize> = match failure.at {
        Some(at) => (0..=at).collect(),
        None => (0..n).collect(),
    };
    let mut chunk = keep.len().div_ceil(2);
    while chunk >= 1 && started.elapsed() < budget {
        let mut i = 0;
        while i < keep.len() && started.elapsed() < budget {
            let candidate: Vec<usize> = keep[..i]
                .iter()
                .chain(keep.get(i + chunk..).unwrap_or_default())
                .copied()
                .collect();
            let again = run(seed, n, Some(&candidate), false).failure;
            if again.is_some_and(|f| kind_of(&f.why) == kind_of(&failure.why)) {
                keep = candidate;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2).min(chunk - 1).max(1);
    }
    keep
}

/// `0-3,7,9-10` for a sorted list of indices.
pub fn ranges(keep: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < keep.len() {
        let mut j = i;
        while j + 1 < keep.len() && keep[j + 1] == keep[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            keep[i].to_string()
        } else {
            format!("{}-{}", keep[i], keep[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// The inverse of [`ranges`].
pub fn parse_ranges(raw: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in raw.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>().ok()?..=b.parse::<usize>().ok()?),
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// What a sync did, path by path, for the trace.
pub fn details(r: &SyncReport) -> String {
    let mut out = Vec::new();
    let lists: [(&str, &Vec<String>); 7] = [
        ("pushed", &r.pushed),
        ("pulled", &r.pulled),
        ("merged", &r.merged),
        ("deleted here", &r.deleted_local),
        ("deleted on the server", &r.deleted_remote),
        ("held", &r.held),
        ("deferred", &r.deferred),
    ];
    for (what, paths) in lists {
        if !paths.is_empty() {
            out.push(format!("{what} {paths:?}"));
        }
    }
    for (path, copy) in &r.conflict_copies {
        out.push(format!("conflict copy of {path:?}: {copy:?}"));
    }
    for x in &r.rejected {
        out.push(format!("rejected {:?} ({})", x.path, x.code));
    }
    if out.is_empty() {
        "nothing to do".to_owned()
    } else {
        out.join("; ")
    }
}
