//! Deterministic simulation of the whole sync system (issue 28): the reference client's
//! engine (`steel-sync`: planning, merge, guard, recovery, `sync.db`) runs unchanged against
//! an in-memory server built on the handlers' pure decision functions, through stand-ins for
//! everything that is not our logic, all driven by one seed.
//!
//! - [`model`]: the server and its bucket, answering the API's requests.
//! - [`net`]: the network (delays are the order of ops; faults per request) and the bucket's
//!   presigned transfers, as the client's `Transport`.
//! - [`disk`]: each device's in-memory file tree and skewed clock.
//! - [`person`]: what people do to their notes, and the book the oracle keeps.
//! - [`world`]: devices, ops and the step that carries one out.
//! - [`oracle`]: the invariants, continuously and at quiescence.
//! - [`rewind`]: a person rewinding the vault or a folder, and the oracle's rule for it.
//! - [`vault`]: encrypted seeds: the vault set up, unlocked and opened (the oracle holds
//!   its keys).
//! - [`migrate`]: migration seeds: a plaintext vault turned encrypted by a device's
//!   `steel-sync encrypt` (resumed after a crash, or abandoned) while others sync.
//! - [`run`]: seeds into op lists, runs, shrinking a failure to a short trace, replaying.

pub mod disk;
pub mod migrate;
pub mod model;
pub mod net;
pub mod oracle;
pub mod person;
pub mod rewind;
pub mod run;
pub mod vault;
pub mod world;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_migration;
