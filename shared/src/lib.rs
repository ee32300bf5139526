//! Steel Notes Sync backend library: everything the Lambda functions share.
//!
//! - [`auth`]: our tokens, identity-provider tokens, the bearer check.
//! - [`config`]: settings read once per cold start.
//! - [`domain`]: types parsed at the boundary (`VaultPath`, `ContentHash`, `Cursor`, ids).
//! - [`db`]: the Postgres schema's typed queries.
//! - [`error`]: the one error type and its HTTP mapping.
//! - [`http`]: API Gateway HTTP API events in, responses out.
//! - [`handlers`]: one module per endpoint.
//! - [`storage`]: the vault bucket: content-addressed blobs, presigned URLs, verification.
//! - [`notifier`]: SQS change notices to APNs silent pushes.
//! - [`runtime`]: cold-start wiring shared by every function's `main`.

pub mod auth;
pub mod config;
pub mod db;
pub mod dev_identity;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod http;
pub mod notifier;
pub mod runtime;
pub mod storage;
pub mod telemetry;

pub use config::Config;
pub use error::ApiError;
