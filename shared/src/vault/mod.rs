//! The vault's sync logic, pure and shared by its endpoints and the database layer: the rules
//! that decide what a write does ([`rules`]) and how notes come back ([`recovery`], a rewind's pages [`rewind`]), request
//! bodies parsed per file ([`request`]), the shapes of refusals and conflicts ([`answer`]), the
//! allowance of unconfirmed uploads ([`uploads`]) and which staged copies may turn a vault
//! encrypted ([`migration`]), and the rules of an account's key slots ([`keys`]). It imports nothing above the domain, the error codes and the
//! settings: the database layer loads and writes what it decides.

pub mod answer;
pub mod bulk;
pub mod keys;
pub mod migration;
pub mod recovery;
pub mod request;
pub mod rewind;
pub mod rules;
pub mod sealed;
pub mod sealed_shape;
pub mod uploads;

pub use answer::{Conflict, Rejected};
