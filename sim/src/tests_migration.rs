//! Migration seeds (`migrate.rs`): a plaintext vault turned encrypted while other devices
//! sync, with the runs of `steel-sync encrypt` stopped by faults and crashes, resumed or
//! abandoned, and the traces that found two bugs of the switch (both failed before it kept
//! each note's version number and stopped naming the switching device as its author).

use crate::migrate::{Run, is_migrating};
use crate::run::{self, parse_ranges};
use crate::world::{Rates, World};

/// Runs `seed`'s first `n` ops and the quiescence; what its runs of `encrypt` did, and
/// whether the account switched.
fn migration_of(seed: u64, n: usize) -> (Vec<Run>, bool) {
    assert!(is_migrating(seed, &Rates::default()), "seed {seed}");
    let (devices, ops) = run::plan(seed, n);
    let mut world = World::new(seed, devices, Rates::default(), false);
    for (i, op) in ops.into_iter().enumerate() {
        world
            .step(i, op)
            .unwrap_or_else(|e| panic!("seed {seed} op {i}: {e}"));
    }
    world
        .quiesce()
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let shared = world.shared();
    (shared.migration_runs.clone(), shared.migrated)
}

#[test]
fn which_seeds_migrate() {
    let rates = Rates::default();
    // Every 5th seed (by remainder 1) that is not encrypted from the start.
    let cases = [
        (1, true),
        (11, true),
        (6, false),
        (21, false),
        (2, false),
        (16, true),
    ];
    for (seed, migrating) in cases {
        assert_eq!(is_migrating(seed, &rates), migrating, "seed {seed}");
    }
    let off = Rates {
        migrate_every: 0,
        ..rates
    };
    assert!(!is_migrating(1, &off));
}

#[test]
fn a_migration_seed_switches_and_holds_every_invariant() {
    let (runs, migrated) = migration_of(41, 400);
    assert!(migrated, "{runs:?}");
    assert_eq!(runs.first(), Some(&Run::Started), "{runs:?}");
    assert!(runs.contains(&Run::Switched), "{runs:?}");
}

#[test]
fn a_migration_stopped_by_a_crash_resumes_and_switches() {
    let (runs, migrated) = migration_of(211, 400);
    assert!(migrated, "{runs:?}");
    let crash = runs.iter().position(|r| *r == Run::Stopped(true));
    let resumed = runs.iter().rposition(|r| *r == Run::Resumed);
    assert!(crash.is_some() && resumed > crash, "{runs:?}");
    assert_eq!(runs.last(), Some(&Run::Switched), "{runs:?}");
}

#[test]
fn an_abandoned_migration_leaves_a_plaintext_vault_that_syncs() {
    let (runs, _) = migration_of(161, 400);
    assert!(runs.contains(&Run::Abandoned), "{runs:?}");
}

/// Regression: the switch named the switching device as every note's author, so its
/// engine took a note it never had for its own edit and deleted it.
#[test]
fn the_switching_device_does_not_delete_a_note_it_never_had() {
    let keep = parse_ranges("28-30").expect("a list of ops");
    let outcome = run::run(41, 400, Some(&keep), false);
    assert_eq!(outcome.failure, None);
}

/// Regression: the switch made every note version 1, so a device that had synced version
/// 1 of a note edited since never pulled the newer content.
#[test]
fn a_device_behind_before_the_switch_pulls_the_newer_version() {
    let keep = parse_ranges("140,255-256,260-261,264").expect("a list of ops");
    let outcome = run::run(166, 400, Some(&keep), false);
    assert_eq!(outcome.failure, None);
}

/// Regression: the switch dropped the tombstones and with them their version numbers, so a
/// note created again at a deleted path after the switch started at version 1, and a
/// device whose last synced version of that path was 1 pushed over it (a line lost).
#[test]
fn a_note_made_again_after_the_switch_does_not_reuse_a_version_number() {
    let keep = parse_ranges(
        "8,15,21-22,32-33,35-39,42-46,57-61,66-67,69,74,86-89,91-94,96,102,104-105,107-108,\
         121,123,164",
    )
    .expect("a list of ops");
    let outcome = run::run(286, 400, Some(&keep), false);
    assert_eq!(outcome.failure, None);
}

/// After the switch the bucket still holds the plaintext blobs (the real janitor deletes
/// them `BLOB_GRACE_HOURS` later): the leak check finds them until the collection runs,
/// and nothing after it.
#[test]
fn the_plaintext_is_a_leak_until_the_janitor_collects_it() {
    let keep = parse_ranges("140,255-256,260-261,264").expect("a list of ops");
    let (devices, ops) = run::plan(166, 400);
    let mut world = World::new(166, devices, Rates::default(), false);
    for &i in &keep {
        world.step(i, ops[i]).expect("no finding");
    }
    let mut shared = world.shared();
    assert!(shared.migrated);
    let acked = shared.book.acked.clone();
    let leak = crate::vault::leaks(&shared.server, &acked);
    assert!(leak.is_some_and(|l| l.contains("in the clear")));
    shared.server.collect();
    assert_eq!(crate::vault::leaks(&shared.server, &acked), None);
}
