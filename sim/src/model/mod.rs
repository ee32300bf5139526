//! The in-memory server: one user's vault as the handlers keep it in Postgres (`file_state`,
//! `file_versions`, the user's counters and compaction marks, verified blobs) and the
//! bucket's objects, answering the vault endpoints' HTTP requests with the protocol's bodies.
//! Every decision is the handlers' own pure function from `steel-core` (`decide_writes`,
//! `decide_deletes`, `is_held`, `request::parse_files`, ...): this module only loads, stores
//! and shapes, as `shared/src/db` and `shared/src/handlers` do.
//!
//! An end-to-end encrypted account (its key slots written with `PUT /vault/keys`) is
//! answered in the encrypted shapes (`keys.rs`, `sealed.rs`): notes kept under their path
//! keys, each version's sealed fields beside it, pushes deduplicated by blob id, every
//! request of the plaintext shape refused, as `handlers/sealed` does.
//!
//! Turning a plaintext vault encrypted (`/vault/migration`, `migration.rs`): slots stored
//! with the account still plaintext, encrypted copies staged, then the switch that
//! replaces every plaintext note, version and tombstone in one step, as
//! `handlers/migration.rs` does.
//!
//! Left out: authentication (the bearer token names the device), request budgets (429),
//! bulk upload (`/vault/bulk`, and so a push's `presign=false`, which only a batch bound
//! for a pack asks: the simulation's devices upload note by note, and the model presigns
//! every upload), the unconfirmed-upload allowance (of pushes and stages),
//! history and deleted listings, change notices. A request for those answers 404
//! `not_found`.

mod janitor;
mod keys;
mod migration;
mod packs;
mod restore;
mod rewind;
mod sealed;
mod writes;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use steel_core::ApiError;
use steel_core::db::sealed::StoredSealed;
use steel_core::domain::{ContentHash, Cursor, DeviceId, VaultPath};
use steel_core::vault::keys::{First, Keys};
use steel_core::vault::migration::StagedCopy;
use steel_core::vault::recovery::MassDeletePolicy;
use steel_core::vault::rules::FileState;
use steel_core::vault::sealed::check_mode;
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::page::{MAX_PAGE_BYTES, entries_within};
use steel_protocol::wire::{OwnEntries, SealedStateAnswer, StateAnswer, StateFile};

pub use janitor::Retention;
pub use packs::{StoredPack, pack_url};

/// One version as `file_versions` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastVersion {
    pub path: VaultPath,
    pub version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
    pub is_deleted: bool,
    pub device: Option<DeviceId>,
    pub change_seq: i64,
    pub created_at: DateTime<Utc>,
    /// Made by a restore (not a push): the oracle tells deliberate recoveries apart.
    pub restored: bool,
}

/// The server's limits, as `Config` has them by default.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub vault_quota_bytes: u64,
    pub mass_delete: MassDeletePolicy,
    /// How far back a rewind may go (`HISTORY_RETENTION_DAYS`).
    pub history_retention: chrono::TimeDelta,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 50 * 1024 * 1024,
            vault_quota_bytes: 5 * 1024 * 1024 * 1024,
            mass_delete: MassDeletePolicy {
                min_files: 50,
                fraction_ppm: 250_000,
            },
            history_retention: chrono::TimeDelta::days(365),
        }
    }
}

/// One user's vault and bucket prefix.
#[derive(Debug, Default)]
pub struct Server {
    pub limits: Limits,
    pub files: BTreeMap<VaultPath, FileState>,
    /// Every version kept, in commit order.
    pub history: Vec<PastVersion>,
    pub change_seq: i64,
    pub vault_size: i64,
    pub file_count: i64,
    pub compacted_seq: i64,
    pub compacted_version: i64,
    pub compacted_until: Option<DateTime<Utc>>,
    /// `blobs`: hashes confirm verified, with their sizes.
    pub verified: HashMap<ContentHash, i64>,
    /// The bucket's objects of this user.
    pub bucket: HashMap<ContentHash, Vec<u8>>,
    /// The server's clock.
    pub now: DateTime<Utc>,
    /// Pack objects (`packs/`), by id; the last id handed out.
    pub packs: HashMap<u64, StoredPack>,
    pub pack_seq: u64,
    /// `vault_keys` and `key_slots`: version 0 (no slots) while the account is plaintext.
    pub keys: Keys,
    /// The sealed fields of each version of an encrypted account, by (path key's path,
    /// version), as `file_versions` keeps them beside the version.
    pub sealed: HashMap<(VaultPath, i64), StoredSealed>,
    /// `migration_staged`: the encrypted copies of a migrating account's notes, by the
    /// plaintext note they encrypt.
    pub staged: BTreeMap<VaultPath, StagedCopy>,
}

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn ok(body: &impl Serialize) -> Self {
        Answer {
            status: 200,
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    pub fn error(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        let body = serde_json::json!({"error": {"code": code.as_str(), "message": message.into()}});
        Answer {
            status,
            body: body.to_string().into_bytes(),
        }
    }
}

/// The URL an object of the bucket is uploaded to and downloaded from.
pub fn object_url(hash: &ContentHash) -> String {
    format!("sim://bucket/{}", hash.to_hex())
}

impl Server {
    pub fn new(now: DateTime<Utc>) -> Self {
        Server {
            now,
            ..Server::default()
        }
    }

    /// The hashes a kept version, a row or a staged copy names: the blobs in use (`IN_USE`
    /// of `db/packs.rs`, and the janitor's test of `migration_staged`), which the
    /// collection keeps and packs may hold.
    pub fn named_hashes(&self) -> std::collections::HashSet<ContentHash> {
        self.history
            .iter()
            .map(|h| h.content_hash)
            .chain(self.files.values().map(|f| f.content_hash))
            .chain(self.staged.values().map(|s| s.copy.content_hash))
            .collect()
    }

    /// Answers one API request (`path_and_query` as sent, after the host).
    pub fn handle(
        &mut self,
        device: Option<DeviceId>,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Answer {
        self.handle_with(device, method, path_and_query, None, body)
    }

    /// [`Server::handle`] with the request's `If-Match` header (`PUT /vault/keys`).
    pub fn handle_with(
        &mut self,
        device: Option<DeviceId>,
        method: &str,
        path_and_query: &str,
        if_match: Option<&str>,
        body: &[u8],
    ) -> Answer {
        let (route, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        if route.starts_with("/vault/migration")
            && let Some(answer) = self.migration(method, route, if_match, body)
        {
            return answer.unwrap_or_else(|e| e);
        }
        let encrypted = self.keys.encrypted();
        let mode = || check_mode(encrypted, body).map_err(api_error);
        let result = match (method, route) {
            ("GET", "/vault/keys") => Ok(self.get_keys()),
            ("PUT", "/vault/keys") => self.put_keys(if_match, body, First::Encrypted),
            ("GET", "/vault/state") => self.state(device, query),
            ("POST", "/vault/pull") => self.any_pull(body),
            ("POST", "/vault/packs") => parse(body).and_then(|b| self.packs(b)),
            (_, "/vault/push" | "/vault/push/confirm" | "/vault/delete" | "/vault/restore")
                if method == "POST" =>
            {
                mode().and_then(|()| match (encrypted, route) {
                    (false, "/vault/push") => parse(body).map(|b| self.push(device, b)),
                    (false, "/vault/push/confirm") => parse(body).map(|b| self.confirm(device, b)),
                    (false, "/vault/delete") => parse(body).and_then(|b| self.delete(device, b)),
                    (false, _) => parse(body).and_then(|b| self.restore(device, b)),
                    (true, "/vault/push") => parse(body).and_then(|b| self.sealed_push(device, b)),
                    (true, "/vault/push/confirm") => {
                        parse(body).and_then(|b| self.sealed_confirm(device, b))
                    }
                    (true, "/vault/delete") => {
                        parse(body).and_then(|b| self.sealed_delete(device, b))
                    }
                    (true, _) => self.sealed_restore(device, body),
                })
            }
            _ => Err(Answer::error(
                404,
                ErrorCode::NotFound,
                "no such route here",
            )),
        };
        result.unwrap_or_else(|e| e)
    }

    /// `GET /vault/state`, as `handlers/state.rs` answers it.
    fn state(&self, device: Option<DeviceId>, query: &str) -> Result<Answer, Answer> {
        let mut cursor_raw = None;
        let mut own_raw = None;
        let mut limit = 1000u32;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("cursor", v)) => cursor_raw = Some(v.to_owned()),
                Some(("limit", v)) => {
                    limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=5000).contains(n))
                        .ok_or_else(|| {
                            Answer::error(400, ErrorCode::InvalidLimit, "limit must be 1 to 5000")
                        })?;
                }
                Some(("own", v)) => own_raw = Some(v.to_owned()),
                _ => {}
            }
        }
        let own = OwnEntries::parse(own_raw.as_deref()).map_err(|e| api_error(e.into()))?;
        let head = self.change_seq;
        let resync = |why: &str| Answer::error(410, ErrorCode::ResyncRequired, why);
        let (from, listing) = match cursor_raw {
            None => (0, true),
            Some(raw) => {
                let (raw, listing) = match raw.strip_prefix('l') {
                    Some(rest) => (format!("c{rest}"), true),
                    None => (raw, false),
                };
                let cursor = Cursor::parse(&raw).map_err(|_| resync("unknown cursor"))?;
                if cursor.seq() > head {
                    return Err(resync("cursor is ahead of the server"));
                }
                if cursor.seq() < self.compacted_seq && !listing {
                    return Err(resync(
                        "deleted notes older than this cursor were forgotten",
                    ));
                }
                (cursor.seq(), listing)
            }
        };
        let mut rows: Vec<&FileState> = self
            .files
            .values()
            .filter(|f| f.change_seq > from)
            .collect();
        rows.sort_by_key(|f| f.change_seq);
        let mut has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let mut rows: Vec<FileState> = rows.into_iter().cloned().collect();
        // The cursor a page hands out, as the handler's `cursor_after` makes it.
        let cursor = |rows: &[FileState], has_more: bool| {
            let mut seq = rows.last().map_or(from, |f| f.change_seq);
            if !has_more {
                seq = seq.max(head);
            }
            if listing && has_more {
                format!("l{seq}")
            } else {
                Cursor::from_seq(seq).to_string()
            }
        };
        if self.keys.encrypted() {
            let mut files = self.sealed_state_entries(&rows, device, own)?;
            fit(&mut rows, &mut files, &mut has_more);
            return Ok(Answer::ok(&SealedStateAnswer {
                files,
                cursor: cursor(&rows, has_more),
                has_more,
                server_time: self.now,
                encrypted: true,
            }));
        }
        let mut files: Vec<StateFile> = rows.iter().cloned().map(StateFile::from).collect();
        fit(&mut rows, &mut files, &mut has_more);
        Ok(Answer::ok(&StateAnswer {
            files,
            cursor: cursor(&rows, has_more),
            has_more,
            server_time: self.now,
        }))
    }

    /// Live paths by case key, as `files::live_keys` reads them.
    fn live_keys(&self, paths: &[&VaultPath]) -> HashMap<String, VaultPath> {
        let wanted: std::collections::HashSet<String> =
            paths.iter().map(|p| p.case_key()).collect();
        self.files
            .values()
            .filter(|f| !f.is_deleted && wanted.contains(&f.path.case_key()))
            .map(|f| (f.path.case_key(), f.path.clone()))
            .collect()
    }

    fn rows_of(&self, paths: &[&VaultPath]) -> HashMap<VaultPath, FileState> {
        paths
            .iter()
            .filter_map(|p| self.files.get(*p).map(|r| ((*p).clone(), r.clone())))
            .collect()
    }

    /// Writes one row and its history entry, taking the next change sequence value, and
    /// keeps the counters as `Writes::commit` does.
    fn write_row(&mut self, row: WriteRow, device: Option<DeviceId>, restored: bool) -> FileState {
        self.change_seq += 1;
        let before_live = self.files.get(&row.path).is_some_and(|f| !f.is_deleted);
        if !row.deleted {
            self.file_count += 1;
        }
        if before_live {
            self.file_count -= 1;
        }
        self.file_count = self.file_count.max(0);
        self.vault_size = (self.vault_size + row.size_delta).max(0);
        let state = FileState {
            path: row.path.clone(),
            version: row.version,
            content_hash: row.hash,
            size_bytes: row.size,
            is_deleted: row.deleted,
            deleted_at: row.deleted.then_some(self.now),
            updated_at: self.now,
            updated_by: device,
            change_seq: self.change_seq,
        };
        self.history.push(PastVersion {
            path: row.path.clone(),
            version: row.version,
            content_hash: row.hash,
            size_bytes: row.size,
            is_deleted: row.deleted,
            device,
            change_seq: self.change_seq,
            created_at: self.now,
            restored,
        });
        let sealed = match row.sealing {
            Sealing::None => None,
            Sealing::Given(s) => Some(s),
            Sealing::CopyFrom(v) => self.sealed.get(&(row.path.clone(), v)).cloned(),
        };
        if let Some(s) = sealed {
            self.sealed.insert((row.path.clone(), row.version), s);
        }
        self.files.insert(row.path, state.clone());
        state
    }
}

/// One row to write.
struct WriteRow {
    path: VaultPath,
    version: i64,
    hash: ContentHash,
    size: i64,
    deleted: bool,
    size_delta: i64,
    sealing: Sealing,
}

/// Where a new version's sealed fields come from (`db::writes::Sealing`): an encrypted
/// account's confirm gives them, a tombstone or a restore copies them from a version of
/// the note; a plaintext account's versions have none.
enum Sealing {
    None,
    Given(StoredSealed),
    CopyFrom(i64),
}

/// An error of the handlers' own functions, as the handler answers it.
fn api_error(e: ApiError) -> Answer {
    Answer::error(e.status(), e.code(), e.to_string())
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body)
        .map_err(|e| Answer::error(400, ErrorCode::InvalidRequest, e.to_string()))
}

/// Ends a state page early where its answer would pass the byte cap, as the handler's
/// `fit` does.
fn fit<T: Serialize>(rows: &mut Vec<FileState>, entries: &mut Vec<T>, has_more: &mut bool) {
    let kept = entries_within(entries, MAX_PAGE_BYTES);
    if kept < entries.len() {
        entries.truncate(kept);
        rows.truncate(kept);
        *has_more = true;
    }
}
