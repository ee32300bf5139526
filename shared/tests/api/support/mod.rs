//! Test support: the application under test and the stand-ins and oracles around it.
//!
//! - `app`: `TestApp`, the app state of a test with one method per route.
//! - `client`: the devices and credentials requests come from, and the answers they get.
//! - `events`: API Gateway and SQS events as AWS hands them to the functions.
//! - `routes`: the route table (route → function → handler), the only place they are paired.
//! - `services`: settings and clients of the local services (Postgres, s3s-fs, moto).
//! - `idp`, `apns`, `fcm`: the identity providers', APNs' and FCM's stand-ins.
//! - `openapi`: `openapi.yaml` compiled, the check every answer goes through.
//! - `seed`: rows written straight through the data layer.
//! - `oracle`: the tests' own reads of the database, and the invariants of committed state.
//! - `pg_proxy`, `s3_proxy`: fault-injecting proxies in front of Postgres and S3/SQS.

pub mod apns;
pub mod app;
pub mod client;
pub mod events;
pub mod fcm;
pub mod idp;
pub mod openapi;
pub mod oracle;
pub mod pg_proxy;
pub mod routes;
pub mod s3_proxy;
pub mod seed;
pub mod services;

pub use app::TestApp;
pub use client::{Anonymous, Answer, SignedIn, TestDevice};
