//! The request and answer bodies of every endpoint, as JSON on the wire (README "API",
//! `openapi.yaml`). The server builds answers from these types and parses requests into
//! them; devices do the opposite with the very same types.
//!
//! Requests carry numbers as [`serde_json::Number`] and names as text: the server refuses a
//! bad file on its own (`rejected`) instead of failing the whole request, so it must see
//! each value as sent. Answers carry parsed types ([`VaultPath`](crate::VaultPath),
//! [`ContentHash`](crate::ContentHash)): what the server sends is always valid, and a device
//! that reads something else refuses it at the boundary.

pub mod account;
pub mod bulk;
pub mod code;
pub mod keys;
pub mod migration;
pub mod packs;
pub mod page;
pub mod recovery;
pub mod sealed;
pub mod sealed_recovery;
pub mod vault;

pub use account::*;
pub use bulk::*;
pub use code::Code;
pub use keys::*;
pub use migration::*;
pub use packs::*;
pub use recovery::*;
pub use sealed::*;
pub use sealed_recovery::*;
pub use vault::*;

/// Most files one push, confirm, pull, delete or restore may name.
pub const MAX_FILES_PER_REQUEST: usize = 1000;
