//! Postgres access: the pool, the embedded migrations and typed query functions.
//!
//! All SQL of the backend lives below this module. Every query that touches vault data is
//! scoped by the caller's `UserId`, so one user can never name another user's rows.

use std::str::FromStr;

pub use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DatabaseConfig;

pub mod account;
pub mod blobs;
pub mod devices;
pub mod files;
pub mod history;
pub mod janitor;
pub mod recovery;
pub mod tokens;
pub mod users;
pub mod writes;

pub use devices::{Device, DeviceUpdate};
pub use files::{ChangePage, FileState};
pub use users::User;
pub use writes::{Batch, Outcome, WriteError};

/// The schema, embedded in every binary so a function can check or apply it.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A small lazy pool: a Lambda sandbox serves one request at a time, so one or two
/// connections suffice, and nothing connects until the first query.
pub fn connect_lazy(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    let statement_timeout = config.statement_timeout.as_millis().to_string();
    let idle_timeout = config.idle_in_transaction_timeout.as_millis().to_string();
    let options = PgConnectOptions::from_str(&config.url)?
        .application_name("steel-notes-sync")
        .options([
            ("statement_timeout", statement_timeout.as_str()),
            // A sandbox killed mid-transaction leaves its socket open: without this the
            // user's row stays locked, and every write of that user waits, until TCP gives up.
            ("idle_in_transaction_session_timeout", idle_timeout.as_str()),
        ]);
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

/// Connects to `url` with one connection and no short statement timeout (migrations may
/// build indexes on big tables), applies the migrations, and returns how many exist.
pub async fn migrate_url(url: &str) -> Result<usize, anyhow::Error> {
    let config = DatabaseConfig {
        url: url.to_owned(),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(600),
        idle_in_transaction_timeout: std::time::Duration::from_secs(600),
    };
    let pool = connect_lazy(&config)?;
    migrate(&pool).await?;
    pool.close().await;
    Ok(MIGRATOR.iter().count())
}
