//! `migrate`: applies the embedded migrations (`migrations/`) to `DATABASE_URL`.
//!
//! Run as a command (`cargo run -p migrate`, `make migrate`) it migrates and exits. Deployed
//! as a Lambda (the runtime API variable is set) it migrates on every invocation, so a
//! deploy step invokes it once; applying an already-applied schema is a no-op.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn apply() -> Result<Value, lambda_runtime::Error> {
    // Only the database setting is needed here, not the API's.
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is required")?;
    let migrations = steel_core::db::migrate_url(&url).await?;
    Ok(json!({"status": "ok", "migrations": migrations}))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    steel_core::telemetry::init();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| apply())).await
    } else {
        println!("{}", apply().await?);
        Ok(())
    }
}
