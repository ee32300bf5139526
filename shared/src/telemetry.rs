//! Logging setup: JSON lines in Lambda (CloudWatch parses them), readable text elsewhere.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The level comes from `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`,
/// which Lambda's advanced logging controls set), defaulting to `info`.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok())
        .and_then(|level| EnvFilter::try_new(level.to_lowercase()).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // try_init: a second call (tests) keeps the first subscriber instead of panicking.
    let _ = if in_lambda {
        builder
            .json()
            .with_current_span(false)
            .with_ansi(false)
            .without_time() // CloudWatch stamps every line itself
            .with_target(false)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
