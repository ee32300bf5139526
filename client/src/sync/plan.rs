//! A plan: every path's [`Decision`], sorted once by kind of work, with what the executors
//! need to know of the moment it was made (the disk names of the notes, `sync_state`).

use std::collections::HashMap;

use super::classify::{Decision, Delete, Merge, Pull, Push, Remote, Removal, Work, classify};
use super::facts::Facts;
use super::guard::{DeletePolicy, Verdict, judge};
use super::report::Rejection;
use crate::scan::{LocalFile, ScanConfig};
use crate::store::{Row, RowChange, Version};

/// One round's plan: the decisions, and the cursor to store once they are all carried out.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub(super) records: Vec<RowChange>,
    pub(super) pulls: Vec<Pull>,
    /// The version the server listed for a pull's path in this plan's changes (its hash
    /// names the bytes to fetch): what lets a pull go through packs.
    pub(super) listed: HashMap<String, Version>,
    pub(super) merges: Vec<Merge>,
    pub(super) removals: Vec<Removal>,
    pub(super) pushes: Vec<Push>,
    pub(super) deletes: Vec<Delete>,
    /// Local deletes the mass-delete guard holds back: not sent, the notes stay known.
    pub(super) held: Vec<Delete>,
    /// How many notes `sync_state` knew when the plan was made.
    pub(super) known: usize,
    pub(super) still_rejected: Vec<String>,
    /// Notes the server would refuse by their names, left out before any request.
    pub(super) set_aside: Vec<Rejection>,
    pub next_cursor: Option<String>,
    /// The notes on disk when the plan was made, by NFC path.
    local: HashMap<String, LocalFile>,
    /// `sync_state` as the plan saw it: a decision whose row has changed since (another
    /// sync ran in between) is stale and is dropped.
    rows: HashMap<String, Row>,
}

impl Plan {
    /// Classifies every path the facts name; then the mass-delete guard judges the local
    /// deletes as a whole.
    pub(super) fn new(facts: Facts, config: &ScanConfig, policy: &DeletePolicy) -> Self {
        let mut plan = Plan::default();
        for path in facts.paths(config) {
            plan.add(classify(&facts.of(path)));
        }
        plan.known = facts.rows.len();
        match judge(policy, plan.deletes.len(), plan.known, facts.local.len()) {
            Verdict::Delete => {}
            Verdict::Hold => plan.held = std::mem::take(&mut plan.deletes),
            // The server still has them (nobody changed them there, or the plan would
            // have pulled): the same as a note never written here.
            Verdict::Restore => plan.pulls.extend(plan.deletes.drain(..).map(|d| Pull {
                path: d.path,
                expect: None,
            })),
        }
        for pull in &plan.pulls {
            if let Remote::Live { version, .. } = facts.remote.of(&pull.path) {
                plan.listed.insert(pull.path.clone(), version.clone());
            }
        }
        plan.next_cursor = facts.next_cursor;
        plan.set_aside = facts.set_aside;
        plan.local = facts.local.into_iter().collect();
        plan.rows = facts.rows;
        plan
    }

    fn add(&mut self, decision: Decision) {
        self.records.extend(decision.record);
        match decision.work {
            None => {}
            Some(Work::Pull(p)) => self.pulls.push(p),
            Some(Work::Merge(m)) => self.merges.push(m),
            Some(Work::Remove(r)) => self.removals.push(r),
            Some(Work::Push(p)) => self.pushes.push(p),
            Some(Work::Delete(d)) => self.deletes.push(d),
            Some(Work::StillRejected { path }) => self.still_rejected.push(path),
        }
    }

    /// How many things the plan does (records included).
    pub fn len(&self) -> usize {
        self.records.len()
            + self.pulls.len()
            + self.merges.len()
            + self.removals.len()
            + self.pushes.len()
            + self.deletes.len()
            + self.still_rejected.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The path a note has (or gets) on this device's disk: a pulled note keeps the name
    /// (NFC or not) it has here.
    pub(super) fn disk_path(&self, path: &str) -> String {
        self.local
            .get(path)
            .map_or_else(|| path.to_owned(), |f| f.rel.clone())
    }

    /// Drops what is stale against `sync_state` as it is now; true if anything was.
    pub(super) fn drop_stale(&mut self, now: &HashMap<String, Row>) -> bool {
        let before = self.len();
        let rows = &self.rows;
        let fresh = |path: &str| now.get(path) == rows.get(path);
        self.records.retain(|r| fresh(r.path()));
        self.pulls.retain(|p| fresh(&p.path));
        self.merges.retain(|m| fresh(&m.path));
        self.removals.retain(|r| fresh(&r.path));
        self.pushes.retain(|p| fresh(&p.path));
        self.deletes.retain(|d| fresh(&d.path));
        self.held.retain(|d| fresh(&d.path));
        self.still_rejected.retain(|p| fresh(p));
        self.len() != before
    }
}
