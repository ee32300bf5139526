//! Steel Notes Sync reference client: keeps one vault folder of Markdown notes in sync with
//! the API, the way the apps do. The `.md` files on disk are the source of truth; the server
//! only ever sees their hashes and, through presigned S3 URLs, their bytes.
//!
//! - [`session`]: tokens in `<vault>/.steel/auth.json`, sign-in and refresh.
//! - [`api`]: the HTTP calls (JSON API and presigned S3 transfers), with a fault hook for tests.
//! - [`store`]: `<vault>/.steel/sync.db`: `sync_state`, `sync_meta` (the cursor), `sync_log`,
//!   and the scan's hash cache.
//! - [`scan`]: finds and hashes the vault's notes, re-reading only what changed.
//! - [`disk`]: atomic writes, and reads checked against the hash a plan was made from.
//! - [`vfs`]: the seams to the file system and the clock (the simulation's stand-ins plug in
//!   there; the API's is [`api::Transport`]).
//! - [`merge`]: three-way line merge and conflict-copy names.
//! - [`sync`]: the sync cycle that ties them together: facts, a pure classification of
//!   every path, and the executors.

pub mod api;
pub mod crypt;
pub mod disk;
pub mod error;
pub mod faults;
pub mod merge;
pub mod scan;
pub mod session;
pub mod store;
pub mod sync;
pub mod vault_key;
pub mod vfs;

pub use api::{Api, TransferStats};
pub use error::SyncError;
pub use faults::{Fault, Faults, NoFaults, Op};
pub use scan::ScanConfig;
pub use session::Session;
pub use store::Version;
pub use sync::{Progress, Rejection, SyncReport, Syncer};

/// The folder inside a vault that holds local sync state; never synced.
pub const STATE_DIR: &str = ".steel";
