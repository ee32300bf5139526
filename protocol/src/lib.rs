//! The contract between the Steel Notes Sync server and every device, defined once.
//!
//! - [`domain`]: values parsed at the boundary (`VaultPath` with its NFC form and case key,
//!   `ContentHash`, `Version`, `Cursor`, ids) and their limits.
//! - [`error`]: the error codes, the `{"error": {...}}` body, why a value was refused.
//! - [`wire`]: the request and answer bodies of every endpoint.
//!
//! No I/O, no async, no AWS, no SQL: the reference client, the app bindings, the simulation
//! and a browser build (`wasm32-unknown-unknown`) all use it as it is. `openapi.yaml` is the
//! published form of the same contract; `tests/openapi.rs` checks that the two agree.

pub mod domain;
pub mod error;
pub mod wire;

pub use domain::{ContentHash, Cursor, DeviceId, UserId, VaultPath, Version};
pub use error::{ErrorCode, ParseError};
