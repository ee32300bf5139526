//! Postgres access: the pool, the embedded migrations and typed query functions.
//!
//! All SQL of the backend lives below this module. Every query that touches vault data is
//! scoped by the caller's `UserId`, so one user can never name another user's rows.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

pub use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{FromRow, PgConnection, Postgres, Transaction};

use crate::config::DatabaseConfig;

pub mod account;
pub mod blobs;
pub mod budgets;
pub mod devices;
pub mod files;
pub mod history;
pub mod janitor;
pub mod keys;
pub mod migration;
pub mod packs;
pub mod recovery;
pub mod retention;
pub mod sealed;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod writes;

pub use devices::{Device, DeviceUpdate};
pub use files::{ChangePage, FileState};
pub use users::User;
pub use writes::{Batch, Outcome, WriteError};

/// The schema, embedded in every binary so a function can check or apply it.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Set once a pool was built with `DATABASE_PREPARED_STATEMENTS=false`: from then on every
/// query of this process uses the unnamed statement. Sticky on purpose: a process has one
/// configuration, and a test that asks for it must not be undone by another test's pool.
static UNNAMED_STATEMENTS: AtomicBool = AtomicBool::new(false);

/// Whether queries may use named (server-side, cached) prepared statements: false through
/// a transaction-pooling proxy (`DATABASE_PREPARED_STATEMENTS=false`), where a named
/// statement prepared on one server connection is unknown on the next. Every query below
/// this module is built by [`query`], [`query_as`] or [`query_scalar`], which apply it.
pub fn persistent() -> bool {
    !UNNAMED_STATEMENTS.load(Ordering::Relaxed)
}

/// `sqlx::query` with [`persistent`] applied: the only way SQL with arguments is built here.
pub(crate) fn query(sql: &str) -> Query<'_, Postgres, PgArguments> {
    sqlx::query(sql).persistent(persistent())
}

/// `sqlx::query_as` with [`persistent`] applied.
pub(crate) fn query_as<'q, O>(sql: &'q str) -> QueryAs<'q, Postgres, O, PgArguments>
where
    O: for<'r> FromRow<'r, PgRow>,
{
    sqlx::query_as(sql).persistent(persistent())
}

/// `sqlx::query_scalar` with [`persistent`] applied.
pub(crate) fn query_scalar<'q, O>(sql: &'q str) -> QueryScalar<'q, Postgres, O, PgArguments>
where
    (O,): for<'r> FromRow<'r, PgRow>,
{
    sqlx::query_scalar(sql).persistent(persistent())
}

/// The connection one statement outside a transaction runs on ([`single`]).
pub(crate) enum Single {
    Plain(PoolConnection<Postgres>),
    Tx(Transaction<'static, Postgres>),
}

impl std::ops::Deref for Single {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Single::Plain(c) => c,
            Single::Tx(t) => t,
        }
    }
}

impl std::ops::DerefMut for Single {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Single::Plain(c) => &mut *c,
            Single::Tx(t) => &mut *t,
        }
    }
}

impl Single {
    /// Commits the statement's transaction, if it has one.
    pub(crate) async fn done(self) -> Result<(), sqlx::Error> {
        match self {
            Single::Plain(_) => Ok(()),
            Single::Tx(t) => t.commit().await,
        }
    }
}

/// A connection of `pool` for a statement that runs outside a transaction: the pool's own
/// connection, except through a transaction-pooling proxy ([`persistent`] false), where it
/// is a transaction of its own. sqlx sends an unnamed statement in two round trips (Parse +
/// Describe, then Bind + Execute); outside a transaction the proxy may give the server
/// connection to another client in between, which then binds our arguments to *its*
/// statement or finds none. Inside a transaction the proxy keeps the server connection.
/// Every query of this module on a pool goes through here (`.fetch_*(pool)` never appears).
pub(crate) async fn single(pool: &PgPool) -> Result<Single, sqlx::Error> {
    if persistent() {
        Ok(Single::Plain(pool.acquire().await?))
    } else {
        Ok(Single::Tx(pool.begin().await?))
    }
}

/// A small lazy pool: a Lambda sandbox serves one request at a time, so one or two
/// connections suffice, and nothing connects until the first query.
///
/// With `prepared_statements` off (a transaction-pooling proxy in front) the timeouts are
/// not sent as startup `options`: PgBouncer refuses that parameter (or, told to ignore it,
/// drops it) and RDS Proxy pins the session for it. The database role's defaults apply
/// instead (`ALTER ROLE ... SET statement_timeout = ...`, see the README).
pub fn connect_lazy(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    let statement_timeout = config.statement_timeout.as_millis().to_string();
    let idle_timeout = config.idle_in_transaction_timeout.as_millis().to_string();
    let mut options = PgConnectOptions::from_str(&config.url)?.application_name("steel-notes-sync");
    if config.prepared_statements {
        options = options.options([
            ("statement_timeout", statement_timeout.as_str()),
            // A sandbox killed mid-transaction leaves its socket open: without this the
            // user's row stays locked, and every write of that user waits, until TCP gives up.
            ("idle_in_transaction_session_timeout", idle_timeout.as_str()),
        ]);
    } else {
        UNNAMED_STATEMENTS.store(true, Ordering::Relaxed);
        // Nothing to cache: each statement is parsed again on whatever server connection
        // the proxy lends.
        options = options.statement_cache_capacity(0);
    }
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout)
        // Lambda freezes idle sandboxes; don't keep connections a proxy has long dropped.
        .idle_timeout(std::time::Duration::from_secs(300))
        .connect_lazy_with(options))
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// The migrator of deploys: [`MIGRATOR`], except that a migration in the database this
/// release does not know (applied by a newer release) is no error, so rolling back to an
/// earlier release still deploys. A known migration whose file changed still fails.
pub fn deploy_migrator() -> Migrator {
    // The fields are the ones `sqlx::migrate!` fills in; there is no public constructor
    // for embedded migrations.
    let mut migrator = Migrator {
        migrations: MIGRATOR.migrations.clone(),
        ignore_missing: false,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
    };
    migrator.set_ignore_missing(true);
    migrator
}

/// Applies the pending migrations as a deploy does ([`deploy_migrator`]); returns how many
/// migrations this release has.
pub async fn migrate_for_deploy(pool: &PgPool) -> Result<usize, sqlx::migrate::MigrateError> {
    let migrator = deploy_migrator();
    migrator.run(pool).await?;
    Ok(migrator.iter().count())
}

/// Connects to `url` with one connection and no short statement timeout (migrations may
/// build indexes on big tables), applies the migrations, and returns how many exist.
pub async fn migrate_url(url: &str) -> Result<usize, anyhow::Error> {
    let config = DatabaseConfig {
        url: url.to_owned(),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(600),
        idle_in_transaction_timeout: std::time::Duration::from_secs(600),
        // Migrations run straight against the database (the stack's migration function
        // uses the cluster endpoint, not the proxy).
        prepared_statements: true,
    };
    let pool = connect_lazy(&config)?;
    let count = migrate_for_deploy(&pool).await?;
    pool.close().await;
    Ok(count)
}

/// Makes `statement` and `idle_in_transaction` the defaults of the role `url` logs in as
/// (`ALTER ROLE CURRENT_USER SET ...`; a role may set its own). Through a transaction pooler
/// (`DATABASE_PREPARED_STATEMENTS=false`) the functions send no startup options, so these
/// are the timeouts they run with; a connection that sends its own (migrate, janitor)
/// overrides them. The stack's `migrate` applies them on every deploy.
pub async fn set_role_timeouts(
    url: &str,
    statement: std::time::Duration,
    idle_in_transaction: std::time::Duration,
) -> Result<(), sqlx::Error> {
    // A pool of one, not a bare connection: `&PgPool` keeps the future `Send` for any caller.
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    // Whole milliseconds: nothing of the caller's is spliced in but two integers.
    sqlx::raw_sql(&format!(
        "ALTER ROLE CURRENT_USER SET statement_timeout = {};
         ALTER ROLE CURRENT_USER SET idle_in_transaction_session_timeout = {}",
        statement.as_millis(),
        idle_in_transaction.as_millis()
    ))
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Every module with SQL; a new one must be listed here too.
    const SOURCES: &[(&str, &str)] = &[
        ("account.rs", include_str!("account.rs")),
        ("blobs.rs", include_str!("blobs.rs")),
        ("budgets.rs", include_str!("budgets.rs")),
        ("devices.rs", include_str!("devices.rs")),
        ("files.rs", include_str!("files.rs")),
        ("history.rs", include_str!("history.rs")),
        ("janitor.rs", include_str!("janitor.rs")),
        ("keys.rs", include_str!("keys.rs")),
        ("migration.rs", include_str!("migration.rs")),
        ("packs.rs", include_str!("packs.rs")),
        ("recovery.rs", include_str!("recovery.rs")),
        ("retention.rs", include_str!("retention.rs")),
        ("sealed.rs", include_str!("sealed.rs")),
        ("tokens.rs", include_str!("tokens.rs")),
        ("uploads.rs", include_str!("uploads.rs")),
        ("users.rs", include_str!("users.rs")),
        ("writes.rs", include_str!("writes.rs")),
    ];

    /// Through a transaction pooler a query built by `sqlx::query*` directly would use a
    /// named statement, and one run on the pool outside a transaction could have its
    /// arguments bound on another client's server connection: neither may appear.
    #[test]
    fn queries_go_through_the_pooler_safe_builders() {
        let dir = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db"))
            .expect("src/db")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".rs") && n != "mod.rs")
            .count();
        assert_eq!(
            dir,
            SOURCES.len(),
            "a module of src/db is missing from SOURCES"
        );
        for (name, src) in SOURCES {
            for banned in [
                "sqlx::query",
                "sqlx::QueryBuilder",
                "_one(pool)",
                "_all(pool)",
                "_optional(pool)",
                "execute(pool)",
                "fetch(pool)",
            ] {
                assert!(
                    !src.contains(banned),
                    "{name} contains `{banned}`: build queries with db::query*, run pool \
                     queries on db::single"
                );
            }
        }
    }
}
