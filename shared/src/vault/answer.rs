//! Shapes the vault endpoints share in their answers (defined in `steel-protocol`): a file
//! refused on its own, and the server's side of a conflict.

pub use steel_protocol::wire::{Conflict, Rejected};
