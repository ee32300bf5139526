//! `migrate`: applies the embedded migrations (`migrations/`) to the database.
//!
//! Run as a command (`cargo run -p migrate`, `make migrate`) it migrates and exits. Deployed
//! as a Lambda it is the stack's `SchemaMigrations` custom resource (see
//! `steel_core::deploy`): CloudFormation invokes it on every deploy and it answers at the
//! event's response URL; a direct invoke migrates and returns the result.

use std::time::Duration;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

/// Only the database setting is needed here (`DATABASE_SECRET_ARN` or `DATABASE_URL`), and
/// optionally the role's default timeouts (`DATABASE_ROLE_STATEMENT_TIMEOUT_MS` with
/// `DATABASE_ROLE_IDLE_IN_TRANSACTION_TIMEOUT_MS`): the timeouts the functions run with
/// behind a transaction pooler (`steel_core::db::set_role_timeouts`).
async fn migrate() -> anyhow::Result<usize> {
    let url = steel_core::secrets::database_url_from_env().await?;
    let count = steel_core::db::migrate_url(&url).await?;
    let ms = |name: &str| -> anyhow::Result<Option<Duration>> {
        match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (100..=3_600_000).contains(&n) => Ok(Some(Duration::from_millis(n))),
                _ => anyhow::bail!("{name} must be 100..=3600000 milliseconds"),
            },
        }
    };
    match (
        ms("DATABASE_ROLE_STATEMENT_TIMEOUT_MS")?,
        ms("DATABASE_ROLE_IDLE_IN_TRANSACTION_TIMEOUT_MS")?,
    ) {
        (Some(statement), Some(idle)) => {
            steel_core::db::set_role_timeouts(&url, statement, idle).await?;
        }
        (None, None) => {}
        _ => anyhow::bail!(
            "DATABASE_ROLE_STATEMENT_TIMEOUT_MS and DATABASE_ROLE_IDLE_IN_TRANSACTION_TIMEOUT_MS \
             go together"
        ),
    }
    Ok(count)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
            // 30 s under the function's deadline: the answer must still go out in time.
            let left = event
                .context
                .deadline()
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            let budget = left.saturating_sub(Duration::from_secs(30));
            steel_core::deploy::handle(event.payload, migrate, budget)
                .await
                .map_err(lambda_runtime::Error::from)
        }))
        .await
    } else {
        println!("{{\"status\":\"ok\",\"migrations\":{}}}", migrate().await?);
        Ok(())
    }
}
