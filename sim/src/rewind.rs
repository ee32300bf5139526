//! Rewinds (issue 28): a person rewinds the whole vault or one folder to an earlier moment
//! exactly as `steel-sync rewind` does (`Api::rewind_in_pages`, page after page with the
//! last `resume`, then `remember_recovery`), and the oracle's rule for what a rewind may
//! take away.
//!
//! The rule, read from the server's history by the oracle itself (not by the model's rewind
//! code): a note in the rewound scope whose newest version is later than the moment gets
//! its state then (its content, or deleted if it was deleted then), and a note created after
//! the moment is deleted with `remove_newer` and kept without; every other note (outside the
//! folder, or unchanged since the moment) is left exactly as it was. Right after the rewind
//! the server must hold exactly that (a note the answer reports skipped for a reason the
//! oracle sees, untouched; of a rewind the person left unfinished, each note untouched or
//! as the rule says). Only
//! the lines the rule takes out of a note are booked as removed on purpose: a line of a
//! note outside the scope, or one the note held at the moment, stays owed, so a rewind that
//! reaches too far or too far back loses acknowledged lines; one that does too little (a
//! page not sent, `remove_newer` ignored) leaves a note not as the rule says.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use steel_core::domain::{ContentHash, VaultPath};
use steel_core::vault::rules::FileState;
use steel_sync::SyncError;
use steel_sync::sync::recovered::{begin_recovery, remember_recovery};

use crate::model::Server;
use crate::person::{FOLDERS, tokens};
use crate::world::World;

/// What a rewind must leave of one note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly as it was (out of scope, unchanged since the moment, or newer and kept).
    Untouched,
    /// Deleted: a tombstone on top of it, or the one it already was.
    Deleted,
    /// Live with this content: a version bringing it back, or already so.
    Content(ContentHash),
}

/// A note's newest version at or before the moment: `None` when it did not exist yet,
/// `Some(None)` when it was deleted then, else its content then.
pub type Then = Option<Option<ContentHash>>;

/// The oracle's rule for one note: `now`, its current row's content (`None`: a tombstone);
/// `changed`, whether it has a version later than the moment.
pub fn expect(
    in_scope: bool,
    changed: bool,
    now: Option<ContentHash>,
    then: Then,
    remove_newer: bool,
) -> Expect {
    if !in_scope || !changed {
        return Expect::Untouched;
    }
    match (then, now) {
        (None, Some(_)) if remove_newer => Expect::Deleted,
        (None, _) | (Some(None), None) => Expect::Untouched,
        (Some(None), Some(_)) => Expect::Deleted,
        (Some(Some(h)), Some(n)) if h == n => Expect::Untouched,
        (Some(Some(h)), _) => Expect::Content(h),
    }
}

/// Whether `after` (the note's row right after the rewind) is what `want` asks of `before`.
pub fn holds(want: Expect, before: &FileState, after: Option<&FileState>) -> bool {
    let Some(after) = after else {
        return false;
    };
    match want {
        Expect::Untouched => after == before,
        Expect::Deleted => {
            after.is_deleted && (before.is_deleted || after.version > before.version)
        }
        Expect::Content(h) => {
            !after.is_deleted && after.content_hash == h && after.version > before.version
        }
    }
}

/// One rewind the person asked for.
#[derive(Debug, Clone)]
pub struct Ask {
    pub as_of: DateTime<Utc>,
    /// A folder (`thoughts/`), or the whole vault.
    pub prefix: Option<String>,
    pub remove_newer: bool,
    /// Notes per page.
    pub limit: u32,
}

impl Ask {
    fn as_of(&self) -> String {
        self.as_of.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// The rule applied to every note the server holds before the rewind, by stored path.
pub fn rule(server: &Server, ask: &Ask) -> BTreeMap<VaultPath, Expect> {
    let mut then: HashMap<&VaultPath, (i64, Option<ContentHash>)> = HashMap::new();
    let mut changed: HashSet<&VaultPath> = HashSet::new();
    for h in &server.history {
        if h.created_at > ask.as_of {
            changed.insert(&h.path);
        } else if then.get(&h.path).is_none_or(|(v, _)| *v < h.version) {
            let content = (!h.is_deleted).then_some(h.content_hash);
            then.insert(&h.path, (h.version, content));
        }
    }
    (server.files.values())
        .map(|f| {
            let in_scope = (ask.prefix.as_deref()).is_none_or(|p| f.path.as_str().starts_with(p));
            let now = (!f.is_deleted).then_some(f.content_hash);
            let was = then.get(&f.path).map(|(_, c)| *c);
            let want = expect(
                in_scope,
                changed.contains(&f.path),
                now,
                was,
                ask.remove_newer,
            );
            (f.path.clone(), want)
        })
        .collect()
}

/// The plaintext of the version a row names (empty when its bytes are not stored).
fn plain(server: &Server, keys: Option<&steel_crypto::VaultKeys>, f: &FileState) -> Vec<u8> {
    let stored = server.bucket.get(&f.content_hash).map(Vec::as_slice);
    match keys {
        None => stored.map(<[u8]>::to_vec),
        Some(k) => {
            crate::vault::open_version(k, server, &f.path, f.version, f.content_hash, stored)
                .ok()
                .and_then(|(_, p)| p)
        }
    }
    .unwrap_or_default()
}

/// Every stored path the rewind's pages report skipped (plaintext `path`, encrypted
/// `path_key`: both the path the server keeps the note under), with the code why.
fn skipped(pages: &[serde_json::Value]) -> HashMap<String, String> {
    (pages.iter())
        .flat_map(|p| p["skipped"].as_array().into_iter().flatten())
        .filter_map(|s| {
            let path = s["path"].as_str().or_else(|| s["path_key"].as_str())?;
            Some((
                path.to_owned(),
                s["code"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// Whether a live note other than `path` has its name but for letter case in `files`.
fn twin_in<'a>(mut files: impl Iterator<Item = &'a FileState>, path: &VaultPath) -> bool {
    files.any(|f| !f.is_deleted && f.path != *path && f.path.case_key() == path.case_key())
}

impl World {
    /// What the person asks: a moment between earlier ops (one's time, or a second before
    /// it) within the history's retention, the whole vault or a folder (plaintext only: an
    /// encrypted vault is rewound whole), `remove_newer` or not, and sometimes pages of a
    /// few notes. `None` when nothing was committed yet.
    fn ask(&self, rng: &mut ChaCha8Rng) -> Option<Ask> {
        let shared = self.shared();
        let server = &shared.server;
        let horizon = shared.time.now() - server.limits.history_retention + TimeDelta::days(1);
        let moments: Vec<DateTime<Utc>> = (server.history.iter())
            .map(|h| h.created_at)
            .filter(|t| *t > horizon)
            .collect();
        if moments.is_empty() {
            return None;
        }
        let mut as_of = moments[rng.random_range(0..moments.len())];
        if rng.random_bool(0.5) {
            as_of -= TimeDelta::seconds(1);
        }
        let folder = FOLDERS[rng.random_range(0..FOLDERS.len())];
        let prefix =
            (shared.oracle.vault.is_none() && rng.random_bool(0.5)).then(|| format!("{folder}/"));
        let remove_newer = rng.random_bool(0.5);
        let limit = if rng.random_bool(0.3) {
            rng.random_range(1..=3)
        } else {
            1000
        };
        Some(Ask {
            as_of,
            prefix,
            remove_newer,
            limit,
        })
    }

    /// `steel-sync rewind`: `sync.db` marked, the pages, then `remember_recovery`. A run
    /// that fails (an answer lost three times, a 5xx, the process crashing between pages)
    /// ends before `remember_recovery`, as the command does; then, drawn, the person leaves
    /// it so (the device's next sync must remember what it made before anything else) or
    /// runs it again after the restart until it works (the network calm), a new rewind to
    /// the same moment whose first page finds the notes the failed run already rewound as
    /// they were then. Then the oracle checks the server against the rule (a rewind left
    /// unfinished: each note untouched or as the rule says) and books the lines it took out.
    pub fn rewind(&mut self, i: usize, d: usize, rng: &mut ChaCha8Rng) -> Result<(), String> {
        self.restart_if_crashed(d);
        let Some(ask) = self.ask(rng) else {
            self.log(format!("#{i} D{d} has nothing to rewind"));
            return Ok(());
        };
        let (earlier, want) = {
            let mut shared = self.shared();
            let scope = ask.prefix.as_deref().unwrap_or("the vault");
            let newer = if ask.remove_newer {
                ", newer notes removed"
            } else {
                ""
            };
            shared.log(format!(
                "#{i} D{d} rewinds {scope} to {}{newer}, {} notes a page",
                ask.as_of(),
                ask.limit
            ));
            (shared.server.files.clone(), rule(&shared.server, &ask))
        };
        let pages = match self.rewind_pages(d, &ask) {
            Ok(pages) => Some(pages),
            // The command ended before `remember_recovery`; the person may leave it so.
            Err(e) if rng.random_bool(0.5) => {
                self.log(format!(
                    "    D{d} rewind stopped: {e}; the person leaves it"
                ));
                self.restart_if_crashed(d);
                None
            }
            Err(e) => {
                self.log(format!(
                    "    D{d} rewind stopped: {e}; the person runs it again"
                ));
                self.restart_if_crashed(d);
                let on = std::mem::replace(&mut self.shared().faults_on, false);
                let again = self.rewind_pages(d, &ask);
                self.shared().faults_on = on;
                let pages = again
                    .map_err(|e| format!("D{d}: the rewind failed with the network calm: {e}"))?;
                Some(pages)
            }
        };
        let skipped = pages.as_deref().map(skipped).unwrap_or_default();
        if pages.is_some() {
            self.remember(d)?;
        }
        let mut shared = self.shared();
        let keys = shared.oracle.vault.clone();
        let mut gone: Vec<String> = Vec::new();
        for (path, before) in &earlier {
            let want = want.get(path).copied().unwrap_or(Expect::Untouched);
            let after = shared.server.files.get(path);
            let want = match (want, skipped.get(path.as_str())) {
                // Skipped only for a reason: the bytes then are gone, or a live case twin
                // held the name (when the rewind began, or after it: a page decides its own
                // notes' deletes first, and a later page's are not known yet).
                (Expect::Content(h), Some(code)) => {
                    let reason = match code.as_str() {
                        "content_gone" => !shared.server.verified.contains_key(&h),
                        "case_conflict" => {
                            twin_in(earlier.values(), path)
                                || twin_in(shared.server.files.values(), path)
                        }
                        _ => false,
                    };
                    if !reason {
                        return Err(format!(
                            "D{d}'s rewind to {} skipped {path} ({code}) with no reason to",
                            ask.as_of()
                        ));
                    }
                    Expect::Untouched
                }
                (want, _) => want,
            };
            // A rewind left unfinished did some of its notes: each either untouched or
            // as the rule says.
            let partly = pages.is_none() && after == Some(before);
            if !partly && !holds(want, before, after) {
                return Err(format!(
                    "D{d}'s rewind to {} left {path} v{} as v{:?} (deleted: {:?}), not as the \
                     rewind's rule says ({want:?})",
                    ask.as_of(),
                    before.version,
                    after.map(|a| a.version),
                    after.map(|a| a.is_deleted)
                ));
            }
            // The lines the rule took out of the note: removed on purpose.
            if after != Some(before) && !before.is_deleted {
                let old = plain(&shared.server, keys.as_ref(), before);
                let new = match after {
                    Some(a) if !a.is_deleted => plain(&shared.server, keys.as_ref(), a),
                    _ => Vec::new(),
                };
                let kept: HashSet<&str> = tokens(&new).collect();
                gone.extend(
                    tokens(&old)
                        .filter(|t| !kept.contains(t))
                        .map(str::to_owned),
                );
            }
        }
        if let Some(extra) = (shared.server.files.keys()).find(|p| !earlier.contains_key(*p)) {
            return Err(format!(
                "D{d}'s rewind to {} made a note that was not there: {extra}",
                ask.as_of()
            ));
        }
        shared.book.removed.extend(gone);
        Ok(())
    }

    /// One run of the command's rewind, through device `d`'s client: `sync.db` marked,
    /// then the pages (`remember_recovery` follows when they all came back).
    fn rewind_pages(&self, d: usize, ask: &Ask) -> Result<Vec<serde_json::Value>, SyncError> {
        let Some(syncer) = self.devices[d].syncer.as_ref() else {
            return Ok(Vec::new());
        };
        begin_recovery(syncer.store())?;
        let api = syncer.api_handle();
        let as_of = ask.as_of();
        self.rt.block_on(api.rewind_in_pages(
            &as_of,
            ask.prefix.as_deref(),
            ask.remove_newer,
            ask.limit,
        ))
    }

    /// `remember_recovery` after the rewind, run again after a restart until the network
    /// lets it through (as after a restore).
    fn remember(&mut self, d: usize) -> Result<(), String> {
        self.remember_calmly(d)
            .map_err(|e| format!("D{d}: remembering the rewind failed: {e}"))
    }

    /// `remember_recovery` on device `d` (nothing to do without a client), tried once more
    /// after a restart, with the network calm, if the first try failed: the person runs it
    /// again until it goes through, after a restore and after a rewind alike.
    pub(crate) fn remember_calmly(&mut self, d: usize) -> Result<(), SyncError> {
        let Some(syncer) = self.devices[d].syncer.as_ref() else {
            return Ok(());
        };
        let first = self
            .rt
            .block_on(remember_recovery(&syncer.api_handle(), syncer.store()));
        if first.is_ok() {
            return Ok(());
        }
        self.restart_if_crashed(d);
        let on = std::mem::replace(&mut self.shared().faults_on, false);
        let syncer = self.devices[d].syncer.as_ref().expect("restarted");
        let result = self
            .rt
            .block_on(remember_recovery(&syncer.api_handle(), syncer.store()));
        self.shared().faults_on = on;
        result.map(|_| ())
    }
}
