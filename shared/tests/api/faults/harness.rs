//! The fault suite's test bench: an app whose functions reach Postgres, S3 and SQS through
//! fault proxies (the test's own reads go direct), and one cell = one request sent with one
//! fault injected, then checked, healed, retried and checked again.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use steel_core::config::DatabaseConfig;

use crate::support::app::Through;
use crate::support::oracle;
use crate::support::pg_proxy::{PgFault, PgProxy};
use crate::support::s3_proxy::{S3Fault, S3Proxy};
use crate::support::{Answer, TestApp};

use super::cases::Case;

/// How long a function may run before the cell counts it as timed out, as Lambda would
/// (the template gives the HTTP functions 10 s; the faults below never need that long).
pub const DEADLINE: Duration = Duration::from_secs(2);
/// The functions' S3 and SQS calls give up after this (`AWS_CALL_TIMEOUT_MS`).
const AWS_CALL_TIMEOUT: &str = "800";
/// The server aborts a transaction left idle this long (a frozen sandbox's): well under
/// [`DEADLINE`], so the retry after a hang waits for it and goes through.
const IDLE_IN_TRANSACTION: Duration = Duration::from_millis(1_200);

/// One fault of the suite.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Postgres, at the n-th statement the function sends.
    Pg(usize, PgFault),
    /// S3 answers or stalls so for `times` calls (`None`: every call until healed).
    S3(S3Fault, Option<usize>),
    /// The change and purge queues answer or stall so, every call.
    Sqs(S3Fault),
}

/// The proxies of one test: the functions' Postgres, S3 and SQS.
pub struct Bench {
    pub pg: PgProxy,
    pub s3: S3Proxy,
    pub sqs: S3Proxy,
    db: PgPool,
}

impl Bench {
    pub async fn start(db: PgPool) -> Bench {
        // The functions' error lines, shown when a cell fails (the test harness captures them).
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("error")
            .try_init();
        let services =
            PgConnectOptions::from_str(&std::env::var("DATABASE_URL").expect("DATABASE_URL"))
                .expect("DATABASE_URL");
        let upstream = (services.get_host().to_owned(), services.get_port());
        let s3 = std::env::var("AWS_ENDPOINT_URL_S3").expect("AWS_ENDPOINT_URL_S3");
        let sqs = std::env::var("AWS_ENDPOINT_URL_SQS").expect("AWS_ENDPOINT_URL_SQS");
        Bench {
            pg: PgProxy::start(upstream).await,
            s3: S3Proxy::start(&s3).await,
            sqs: S3Proxy::start(&sqs).await,
            db,
        }
    }

    /// A new pool (a cold start) of at most `max_connections` that reaches Postgres through
    /// the fault proxy.
    pub fn proxied_pool(&self, max_connections: u32) -> PgPool {
        let test_db = self.db.connect_options();
        let url = format!(
            "postgres://{}@127.0.0.1:{}/{}?sslmode=disable",
            test_db.get_username(),
            self.pg.port,
            test_db.get_database().expect("test database name"),
        );
        steel_core::db::connect_lazy(&DatabaseConfig {
            url,
            max_connections,
            acquire_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(3),
            idle_in_transaction_timeout: IDLE_IN_TRANSACTION,
            prepared_statements: true,
        })
        .expect("pool")
    }

    /// A new app (a cold start: a new pool) whose functions go through the proxies.
    pub async fn app(&self) -> TestApp {
        // One connection: its statement cache, and so the statements each request sends,
        // are the same in the dry run and in every cell.
        let pool = self.proxied_pool(1);
        TestApp::builder(self.db.clone())
            .setting("AWS_CALL_TIMEOUT_MS", AWS_CALL_TIMEOUT)
            .through(Through {
                pool,
                s3_endpoint: self.s3.url.clone(),
                sqs_endpoint: self.sqs.url.clone(),
            })
            .spawn()
            .await
    }

    fn arm(&self, fault: Fault) {
        match fault {
            Fault::Pg(step, kind) => self.pg.arm(Some((step, kind))),
            Fault::S3(kind, times) => self.s3.arm(kind, times),
            Fault::Sqs(kind) => self.sqs.arm(kind, None),
        }
    }

    fn heal(&self) {
        self.pg.arm(None);
        self.s3.heal();
        self.sqs.heal();
    }

    /// How many statements `case`'s request sends to Postgres when nothing fails.
    pub async fn statements(&self, case: Case) -> usize {
        let app = self.app().await;
        let prepared = case.prepare(&app).await;
        settle(&app).await;
        self.pg.arm(None);
        let answer = case.send(&app, &prepared).await;
        settle(&app).await;
        let steps = self.pg.steps();
        case.check_done(&app, &prepared, &answer).await;
        steps
    }

    /// One cell: `case`'s request with `fault` injected. The answer must be a success (the
    /// fault was absorbed) or a retryable 503, never another error; the committed state must
    /// be consistent; after healing, the same request must succeed. Returns what the first
    /// answer was, for the report.
    pub async fn cell(&self, case: Case, fault: Fault) -> Outcome {
        // Shown with the functions' error lines when a cell fails.
        eprintln!("cell: {case:?} with {fault:?}");
        let app = self.app().await;
        let prepared = case.prepare(&app).await;
        settle(&app).await;
        self.arm(fault);
        let first = tokio::time::timeout(DEADLINE, case.send(&app, &prepared)).await;
        if first.is_ok() {
            // The last step is the ping of the connection taken back after the answer.
            settle(&app).await;
        }
        let fired = match fault {
            Fault::Pg(..) => self.pg.fired(),
            Fault::S3(..) => self.s3.faulted() > 0,
            Fault::Sqs(_) => self.sqs.faulted() > 0,
        };
        let outcome = match &first {
            Err(_) => Outcome::TimedOut,
            Ok(answer) if (200..300).contains(&answer.status) => Outcome::Succeeded,
            Ok(answer) => {
                assert!(
                    answer.status == 503 && answer.code() == "temporarily_unavailable",
                    "{case:?} with {fault:?}: {} {:?}",
                    answer.status,
                    answer.body
                );
                Outcome::Unavailable
            }
        };
        self.heal();
        oracle::assert_consistent(&self.db, true).await;
        // A hung connection stands for a sandbox frozen or killed mid-request (Lambda ends
        // a sandbox that times out): the retry meets a cold start. After any other fault the
        // same warm instance serves the retry. (A warm pool whose connection is held open but
        // never answered stays stuck: sqlx pings a connection it takes back, with no timeout.
        // See README, "Failure and retries".)
        let retry_app = match fault {
            Fault::Pg(_, PgFault::Hang) => self.app().await,
            _ => app,
        };
        eprintln!("cell: {case:?} with {fault:?}: {outcome:?}, healed, retrying");
        let retry = tokio::time::timeout(DEADLINE, case.send(&retry_app, &prepared))
            .await
            .unwrap_or_else(|_| panic!("{case:?} with {fault:?}: the retry timed out"));
        case.check_done(&retry_app, &prepared, &retry).await;
        oracle::assert_consistent(&self.db, true).await;
        if fired { outcome } else { Outcome::NotReached }
    }
}

/// Waits until the functions' pool has taken its connection back: sqlx pings a connection
/// it takes back in a task of its own, and that ping must not count as the next request's.
/// (A ping that hangs is given up on after a second.)
async fn settle(app: &TestApp) {
    let pool = &app.functions.app.db;
    for _ in 0..200 {
        if pool.num_idle() >= pool.size() as usize {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What a cell's first attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The fault was met and absorbed (an SDK retry, a lost notice): the answer was a success.
    Succeeded,
    /// The fault was met: 503 `temporarily_unavailable`.
    Unavailable,
    /// The fault was met: the function hung until its deadline.
    TimedOut,
    /// The request finished before the fault's step (nothing to inject).
    NotReached,
}

/// The answer a 2xx must be; anything else fails the cell with the body.
pub fn assert_success(case: Case, answer: &Answer) {
    assert!(
        (200..300).contains(&answer.status),
        "{case:?}: the retry answered {} {:?}",
        answer.status,
        answer.body
    );
}
