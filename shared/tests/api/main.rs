//! The integration tests of `steel-core`, in one test binary (each binary links the whole
//! crate and its dependencies, so one binary builds and links once). Every test runs
//! against the real local services of `scripts/services.sh`; see `support` for the
//! application under test and the stand-ins around it.
//!
//! One module per topic: `auth`, `vault`, `account`, `notifier`, `budget` go through the
//! functions' handlers; `db` tests the data layer; `deploy` the migrations' custom resource, the secrets
//! and the template; `events` and `openapi` check the sample events and `openapi.yaml` against
//! the code; `faults` breaks Postgres, S3 and SQS under every write.

mod account;
mod auth;
mod budget;
mod bulk;
mod db;
mod deploy;
mod events;
mod faults;
mod janitor;
mod keys;
mod notifier;
mod openapi;
mod packs;
mod packs_reuse;
mod recovery;
mod support;
mod vault;
