//! Server-side fault injection: every write request (`cases`) is sent with a fault injected
//! at each step it could meet one (`harness`): Postgres cut before each statement, cut after
//! it with its answer lost (a `COMMIT` that committed unbeknown to the function), or hung
//! there as a frozen sandbox would leave it; S3 answering 500 once (the SDK retries), 503 or
//! slowly every time; SQS answering 500 or slowly. Each cell asserts a success or a retryable
//! 503 (never a 500 or a partial commit), the invariants of committed state, and that the
//! same request sent again succeeds with exactly one request's effect.
//!
//! Each test writes its cell count to `fault-cells-<case>` in Cargo's test tmp dir;
//! `scripts/test.sh` prints the total after the run.

mod cases;
mod harness;
mod janitor;
mod sealed;

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::support::pg_proxy::PgFault;
use crate::support::s3_proxy::S3Fault;
use cases::Case;
use harness::{Bench, Fault, Outcome};

/// Cells of one test in flight at once.
const PARALLEL_CELLS: usize = 6;

/// Every cell of `case`; the report line it writes.
async fn run(pool: PgPool, case: Case) {
    let bench = Bench::start(pool.clone()).await;
    let statements = bench.statements(case).await;
    assert!(
        statements >= 1,
        "{case:?} sent no statement through the proxy"
    );
    let mut faults = Vec::new();
    for step in 1..=statements {
        for kind in [PgFault::CutBefore, PgFault::AnswerLost, PgFault::Hang] {
            faults.push(Fault::Pg(step, kind));
        }
    }
    let slow = S3Fault::Slow(std::time::Duration::from_secs(2));
    faults.extend([
        Fault::S3(S3Fault::Status(500), Some(1)),
        Fault::S3(S3Fault::Status(503), None),
        Fault::S3(slow, None),
        Fault::Sqs(S3Fault::Status(500)),
        Fault::Sqs(slow),
    ]);
    // Cells run side by side, each with proxies of its own (faults are armed per proxy).
    let mut cells = tokio::task::JoinSet::new();
    let mut outcomes: BTreeMap<Outcome, usize> = BTreeMap::new();
    for fault in faults.iter().copied() {
        if cells.len() >= PARALLEL_CELLS {
            count(&mut outcomes, cells.join_next().await);
        }
        let pool = pool.clone();
        cells.spawn(async move {
            let outcome = Bench::start(pool).await.cell(case, fault).await;
            // The request is the same every time, so each of its statements meets its fault.
            if let Fault::Pg(..) = fault {
                assert_ne!(
                    outcome,
                    Outcome::NotReached,
                    "{case:?}: {fault:?} never met"
                );
            }
            outcome
        });
    }
    while !cells.is_empty() {
        count(&mut outcomes, cells.join_next().await);
    }
    let line = format!(
        "{case:?}: {} cells ({statements} statements x 3 Postgres faults + 5 S3/SQS faults): {outcomes:?}\n",
        faults.len()
    );
    eprint!("{line}");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join(format!("fault-cells-{case:?}")), line).expect("report");
}

fn count(
    outcomes: &mut BTreeMap<Outcome, usize>,
    done: Option<Result<Outcome, tokio::task::JoinError>>,
) {
    match done.expect("a cell") {
        Ok(outcome) => *outcomes.entry(outcome).or_default() += 1,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

macro_rules! fault_tests {
    ($($name:ident => $case:expr),+ $(,)?) => {$(
        #[sqlx::test(migrator = "steel_core::db::MIGRATOR")]
        async fn $name(pool: PgPool) {
            run(pool, $case).await;
        }
    )+};
}

fault_tests! {
    login_survives_every_fault => Case::Login,
    refresh_survives_every_fault => Case::Refresh,
    register_survives_every_fault => Case::Register,
    push_survives_every_fault => Case::Push,
    confirm_survives_every_fault => Case::Confirm,
    bulk_confirm_survives_every_fault => Case::BulkConfirm,
    delete_survives_every_fault => Case::Delete,
    restore_survives_every_fault => Case::Restore,
    delete_account_survives_every_fault => Case::DeleteAccount,
    sealed_confirm_survives_every_fault => Case::SealedConfirm,
    sealed_bulk_confirm_survives_every_fault => Case::SealedBulkConfirm,
    sealed_delete_survives_every_fault => Case::SealedDelete,
    put_keys_survives_every_fault => Case::PutKeys,
}
