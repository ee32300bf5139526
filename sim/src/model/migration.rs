//! `/vault/migration` as `handlers/migration.rs` answers it (README "Turning encryption on
//! for an existing vault"): `POST` stores the first slots with the account still plaintext,
//! `POST .../stage` keeps encrypted copies of live notes' current versions, `POST
//! .../switch` replaces every plaintext note, version and tombstone with the staged copies
//! in one step, `DELETE` abandons, `GET` says how far it is. The decisions are
//! `steel_core::vault::migration`'s (`parse_stage`, `decide_stage`, `decide_switch`,
//! `not_migrating`); this module keeps `migration_staged` and does what
//! `db::migration` does with them.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::TimeDelta;
use steel_core::db::migration::MISSING_LISTED;
use steel_core::db::sealed::StoredSealed;
use steel_core::domain::{ContentHash, VaultPath};
use steel_core::vault::Rejected;
use steel_core::vault::keys::Keys;
use steel_core::vault::migration::{
    Mode, Source, StageDecision, StagedCopy, decide_stage, decide_switch, not_migrating,
    parse_stage,
};
use steel_core::vault::request;
use steel_core::vault::rules::FileState;
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::{
    MigrationAnswer, SourceRef, StageAnswer, StageRequest, StageUpload, StaleStage, SwitchAnswer,
};

use super::{Answer, PastVersion, Server, api_error, object_url, parse};

impl Server {
    /// Where the account stands (`mode_in`).
    pub fn mode(&self) -> Mode {
        match (self.keys.version, self.keys.migrating) {
            (0, _) => Mode::Plaintext,
            (_, true) => Mode::Migrating,
            _ => Mode::Encrypted,
        }
    }

    /// The `/vault/migration` routes; `None` for a route that is not one of them.
    pub(super) fn migration(
        &mut self,
        method: &str,
        route: &str,
        if_match: Option<&str>,
        body: &[u8],
    ) -> Option<Result<Answer, Answer>> {
        Some(match (method, route) {
            ("GET", "/vault/migration") => Ok(self.migration_status()),
            ("POST", "/vault/migration") => {
                self.put_keys(if_match, body, steel_core::vault::keys::First::Migrating)
            }
            ("DELETE", "/vault/migration") => match self.mode() {
                Mode::Migrating => {
                    self.keys = Keys::default();
                    self.staged.clear();
                    Ok(self.migration_status())
                }
                mode => Err(api_error(not_migrating(mode))),
            },
            ("POST", "/vault/migration/stage") => self.stage(body),
            ("POST", "/vault/migration/switch") => self.switch(),
            _ => return None,
        })
    }

    /// The live notes with no staged copy of their current version, by path.
    fn missing(&self) -> Vec<(VaultPath, i64)> {
        self.files
            .values()
            .filter(|f| !f.is_deleted && !self.staged_current(f))
            .map(|f| (f.path.clone(), f.version))
            .collect()
    }

    fn staged_current(&self, f: &FileState) -> bool {
        self.staged
            .get(&f.path)
            .is_some_and(|s| s.copy.version == f.version)
    }

    /// `GET /vault/migration` (`status_in`: counts only while migrating).
    fn migration_status(&self) -> Answer {
        let mode = self.mode();
        let (live_notes, staged, missing) = if mode == Mode::Migrating {
            let live = self.files.values().filter(|f| !f.is_deleted).count() as i64;
            let missing = self.missing();
            let staged = live - missing.len() as i64;
            let listed = usize::try_from(MISSING_LISTED).unwrap_or(usize::MAX);
            let missing = (missing.into_iter().take(listed))
                .map(|(path, version)| SourceRef { path, version })
                .collect();
            (live, staged, missing)
        } else {
            (0, 0, Vec::new())
        };
        Answer::ok(&MigrationAnswer {
            mode: mode.wire(),
            live_notes,
            staged,
            missing,
        })
    }

    /// `POST /vault/migration/stage`.
    fn stage(&mut self, body: &[u8]) -> Result<Answer, Answer> {
        let body: StageRequest = parse(body)?;
        request::check_count(body.files.len()).map_err(api_error)?;
        let (copies, rejected) = parse_stage(&body.files, self.limits.max_file_bytes);
        // `verify_blobs`: what the bucket holds for the copies' hashes becomes verified.
        let hashes: HashSet<ContentHash> = copies.iter().map(|c| c.copy.content_hash).collect();
        for hash in &hashes {
            if !self.verified.contains_key(hash)
                && let Some(bytes) = self.bucket.get(hash)
                && ContentHash::of(bytes) == *hash
            {
                self.verified.insert(*hash, bytes.len() as i64);
            }
        }
        let mode = self.mode();
        if mode != Mode::Migrating {
            return Err(api_error(not_migrating(mode)));
        }
        let decisions = self.decide_copies(&copies);
        let mut answer = StageAnswer {
            rejected,
            ..StageAnswer::default()
        };
        let quota = self.limits.vault_quota_bytes;
        for (c, decision) in copies.into_iter().zip(decisions) {
            let path = c.copy.path.clone();
            match decision {
                StageDecision::Stage => {
                    answer.staged.push(SourceRef {
                        path,
                        version: c.copy.version,
                    });
                    self.staged
                        .retain(|p, s| *p != c.copy.path && s.path_key != c.path_key);
                    self.staged.insert(c.copy.path.clone(), c);
                }
                StageDecision::Stale { current } => answer.stale.push(StaleStage {
                    path,
                    version: c.copy.version,
                    current,
                }),
                StageDecision::QuotaExceeded => {
                    answer.rejected.push(Rejected::quota_exceeded(&path, quota))
                }
                StageDecision::NeedsUpload if self.verified.contains_key(&c.copy.content_hash) => {
                    answer.rejected.push(Rejected::new(
                        path.as_str(),
                        ErrorCode::ContentMismatch,
                        "the bucket holds this content_hash with another size_bytes",
                    ));
                }
                StageDecision::NeedsUpload => answer.uploads.push(StageUpload {
                    path,
                    content_hash: c.copy.content_hash,
                    size_bytes: c.copy.size,
                    upload_url: object_url(&c.copy.content_hash),
                    method: "PUT".to_owned(),
                    headers: BTreeMap::new(),
                    expires_at: self.now + TimeDelta::hours(1),
                }),
            }
        }
        Ok(Answer::ok(&answer))
    }

    /// [`decide_stage`] on the rows the copies name, as `db::migration::stage` loads them.
    fn decide_copies(&self, copies: &[StagedCopy]) -> Vec<StageDecision> {
        let paths: HashSet<&VaultPath> = copies.iter().map(|c| &c.copy.path).collect();
        let keys: HashSet<&str> = copies.iter().map(|c| c.path_key.as_str()).collect();
        let sources: HashMap<VaultPath, Source> = (paths.iter())
            .filter_map(|p| self.files.get(*p))
            .map(|f| {
                let source = Source {
                    version: f.version,
                    is_deleted: f.is_deleted,
                };
                (f.path.clone(), source)
            })
            .collect();
        let verified: HashMap<ContentHash, i64> = (copies.iter())
            .filter_map(|c| {
                let size = self.verified.get(&c.copy.content_hash)?;
                Some((c.copy.content_hash, *size))
            })
            .collect();
        let others: i64 = (self.staged.iter())
            .filter(|(p, s)| !paths.contains(p) && !keys.contains(s.path_key.as_str()))
            .map(|(_, s)| s.copy.size)
            .sum();
        let plain: Vec<_> = copies.iter().map(|c| c.copy.clone()).collect();
        decide_stage(
            &plain,
            &sources,
            &verified,
            others,
            self.limits.vault_quota_bytes,
        )
    }

    /// `POST /vault/migration/switch`: the staged copies of every live note's current
    /// version become the account's notes (under their path keys, each at its plaintext
    /// version's number, change
    /// sequence values from 2 past the old head, which becomes the compaction mark); every
    /// plaintext note, version and tombstone goes, and the account is encrypted. The copies
    /// are made by no device (`updated_by` null). The plaintext blobs are then unused: the
    /// janitor's collection deletes them.
    fn switch(&mut self) -> Result<Answer, Answer> {
        let live = self.files.values().filter(|f| !f.is_deleted).count() as i64;
        let staged = live - self.missing().len() as i64;
        decide_switch(self.mode(), live, staged).map_err(api_error)?;
        let current: HashSet<(VaultPath, i64)> = (self.files.values())
            .filter(|f| !f.is_deleted)
            .map(|f| (f.path.clone(), f.version))
            .collect();
        let mut copies: Vec<StagedCopy> = std::mem::take(&mut self.staged)
            .into_values()
            .filter(|s| current.contains(&(s.copy.path.clone(), s.copy.version)))
            .collect();
        copies.sort_by(|a, b| a.path_key.cmp(&b.path_key));
        let head = self.change_seq;
        // Every plaintext version number stays used (`compacted_version`, as a compaction).
        let highest = self.files.values().map(|f| f.version).max().unwrap_or(0);
        self.compacted_version = self.compacted_version.max(highest);
        self.files.clear();
        self.history.clear();
        self.sealed.clear();
        let (mut notes, mut bytes, mut last) = (0i64, 0i64, 0i64);
        for (n, s) in (1i64..).zip(copies) {
            let Ok(path) = VaultPath::parse(&s.path_key) else {
                continue;
            };
            let seq = head + 1 + n;
            self.files.insert(
                path.clone(),
                FileState {
                    path: path.clone(),
                    version: s.copy.version,
                    content_hash: s.copy.content_hash,
                    size_bytes: s.copy.size,
                    is_deleted: false,
                    deleted_at: None,
                    updated_at: self.now,
                    updated_by: None,
                    change_seq: seq,
                },
            );
            self.history.push(PastVersion {
                path: path.clone(),
                version: s.copy.version,
                content_hash: s.copy.content_hash,
                size_bytes: s.copy.size,
                is_deleted: false,
                device: None,
                change_seq: seq,
                created_at: self.now,
                restored: false,
            });
            self.sealed.insert(
                (path, s.copy.version),
                StoredSealed {
                    sealed_path: s.sealed_path,
                    sealed_manifest: s.sealed_manifest,
                    manifest_version: s.copy.version,
                    blob_id: s.blob_id,
                },
            );
            notes += 1;
            bytes += s.copy.size;
            last = seq;
        }
        self.compacted_seq = head + 1;
        self.compacted_until = Some(self.now);
        self.change_seq = last.max(head + 1);
        self.vault_size = bytes;
        self.file_count = notes;
        self.keys.migrating = false;
        Ok(Answer::ok(&SwitchAnswer {
            notes,
            cursor: self.change_seq,
        }))
    }
}
