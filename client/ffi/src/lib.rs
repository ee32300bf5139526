//! `steel-sync-ffi`: the apps' sync engine. The reference client (`steel-sync`) behind a
//! UniFFI surface, so the Kotlin Multiplatform apps (Android through the Kotlin bindings,
//! iPhone and Mac through the Swift ones / an XCFramework) run the very rules the CLI runs:
//! change detection, the five-phase sync, merges and conflict copies, the mass-delete guard,
//! recorded restores. This crate is a thin layer: it adds no sync logic, only the engine's
//! runtime, the app's token store, status observers, the debounce and the records.
//!
//! - [`engine`]: [`SyncEngine`], its runtime and its syncs; [`calls`]: recovery, conflicts,
//!   account.
//! - [`tokens`]: the app's `TokenStore` (Keychain / Android Keystore).
//! - [`encryption`]: end-to-end encryption and the app's `VaultKeyStore`; [`conformance`]:
//!   the crypto crate's formats, for the apps' conformance tests against its test vectors.
//! - [`status`]: `Idle` / `Syncing` / `Offline` / `Error` and the observers.
//! - [`debounce`]: `onLocalFileChanged`'s 2-second debounce.
//! - [`error`]: the one error enum the apps switch on.
//! - [`types`], [`recovery`], [`account`]: the records.
//!
//! The README's "Using the sync engine from the apps" shows the Kotlin side;
//! `scripts/kotlin-test.sh` generates the bindings and tests them from Kotlin.

pub mod account;
pub mod calls;
pub mod conformance;
pub mod debounce;
pub mod encryption;
pub mod engine;
pub mod error;
pub mod recovery;
pub mod status;
pub mod tokens;
pub mod types;

pub use encryption::{EncryptionState, VaultKeyStore};
pub use engine::SyncEngine;
pub use error::{AppError, EngineError};
pub use status::{EngineStatus, ObservationHandle, StatusObserver, SyncPhase, SyncProgress};
pub use tokens::TokenStore;
pub use types::{
    ConflictCopy, DeviceInfo, IdentityProvider, NoteError, Platform, PushEnvironment, SignedIn,
    StoredSession, SyncReport,
};

uniffi::setup_scaffolding!();
