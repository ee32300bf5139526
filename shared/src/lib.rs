//! Steel Notes Sync backend library: everything the Lambda functions share.
//!
//! - [`auth`]: our tokens, identity-provider tokens, the bearer check.
//! - [`budget`]: per-account request budgets (fair use), checked with the bearer token.
//! - [`config`]: settings read once per cold start.
//! - [`domain`]: types parsed at the boundary (`VaultPath`, `ContentHash`, `Cursor`, ids),
//!   defined in `steel-protocol` with every request and answer body, shared with devices.
//! - [`db`]: the Postgres schema's typed queries.
//! - [`deploy`]: `migrate` as a CloudFormation custom resource (migrations on every deploy).
//! - [`error`]: the one error type and its HTTP mapping.
//! - [`http`]: API Gateway HTTP API events in, responses out.
//! - [`handlers`]: one module per HTTP function.
//! - [`vault`]: the sync rules, pure, below the database layer that loads what they decide.
//! - [`storage`]: the vault bucket: content-addressed blobs, presigned URLs, verification.
//! - [`queue`], [`messages`]: sending to our SQS queues, and the messages on them.
//! - [`notifier`]: SQS change notices to APNs silent pushes.
//! - [`janitor`]: the scheduled run that collects unused blobs and abandoned uploads.
//! - [`purge`]: deleting a deleted account's objects, resumably.
//! - [`packs`]: many blobs for one device as a few pack objects (a disposable cache).
//! - [`secrets`]: secrets fetched from Secrets Manager at cold start.
//! - [`runtime`]: cold-start wiring shared by every function's `main`.

pub mod auth;
pub mod budget;
pub mod config;
pub mod db;
pub mod deploy;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod http;
pub mod janitor;
pub mod messages;
pub mod notifier;
pub mod packs;
pub mod purge;
pub mod queue;
pub mod runtime;
pub mod secrets;
pub mod storage;
pub mod telemetry;
pub mod vault;

pub use config::Config;

#[cfg(test)]
mod layering_tests;
pub use error::ApiError;
