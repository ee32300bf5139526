//! The reference client's integration tests, in one test binary (each binary links the whole
//! client, steel-core's test helpers and their dependencies once): all of them run against
//! the backend as `make dev` serves it (`scripts/with-dev-stack.sh` sets `STEEL_API_URL`).
//!
//! - `brief`: an encrypted device's own versions listed brief (`own=brief`): named from
//!   `sync.db`, read again in full after a confirm whose answer was lost.
//! - `cli`: the `steel-sync` command as a user runs it: login, sync, status, exit statuses,
//!   the mass-delete hold, history, deleted, restore and rewind.
//! - `e2e`: two vault folders of one user through the library: notes, edits, deletes,
//!   renames, merges, conflicts, notices, faults.
//! - `encrypted`: end-to-end encrypted sync: two devices converge (edits, deletes, renames, a
//!   merge, a restore), unlock by passphrase and by recovery code, a locked device refuses,
//!   tampered blobs are reported and never written, no canary reaches the database or bucket.
//! - `encrypted_bulk`: an encrypted vault's first upload through incoming packs of
//!   ciphertexts: a few requests instead of one PUT per note, a second device gets every
//!   note, and no request the device sends (the pack among them) holds a name or content.
//! - `keys`: end-to-end encryption keys from the command line: encrypt, unlock, passphrase,
//!   recovery-code, lock.
//! - `migration`: turning encryption on for a vault with notes, with each migration
//!   request's answer lost in turn: a rerun finishes it, a second device converges.
//! - `model`: the seeded model test under injected faults.
//! - `rate_limit`: a sync through the server's 429 `rate_limited`, with the account's
//!   request budgets spent.
//! - `retention`: a device that slept past the tombstone retention resyncs from a full
//!   listing (runs the janitor in time travel).
//! - `tamper`: a server that lies to an encrypted account through its database (an old
//!   manifest for a newer version, another account's key slots): refused, nothing written.

mod brief;
mod bulk;
mod cli;
mod common;
mod e2e;
mod encrypted;
mod encrypted_bulk;
mod keys;
mod migration;
mod model;
mod packs;
mod rate_limit;
mod retention;
mod tamper;
