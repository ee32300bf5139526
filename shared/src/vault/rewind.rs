//! A rewind's rules above the single note ([`super::recovery::decide_rewind`]): the form of
//! its request (`as_of`, `prefix`, `limit`, `resume`), whether a `resume` belongs to the
//! rewind asked, and what one page does to its notes (deletions first, so a note restored
//! in the page can take back a name or room a deleted one gives up). Pure: the database
//! layer and the simulation's model server load the rows and write what these decide.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::VaultPath;
use crate::error::{ApiError, ErrorCode};
use crate::vault::Rejected;
use crate::vault::recovery::{PastState, RewindDecision, decide_rewind};
use crate::vault::rules::{FileState, Room};
use steel_protocol::wire::RewindAnswer;

pub const DEFAULT_REWIND_PAGE: u32 = 1000;
pub const MAX_REWIND_PAGE: u32 = 5000;

/// Where a rewind stands: the change sequence it rewinds to, the user's head when it began
/// (notes changed later, by anyone, are newer than the rewind and left alone), and the last
/// note done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewindPosition {
    pub target_seq: i64,
    pub head_seq: i64,
    pub done_seq: i64,
}

/// One page of a rewind to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewindPage {
    pub as_of: DateTime<Utc>,
    /// Only notes under this folder (`"thoughts/"`), or the whole vault.
    pub prefix: Option<String>,
    pub remove_newer: bool,
    /// Where an earlier page stopped; `None` starts the rewind.
    pub resume: Option<RewindPosition>,
    pub limit: u32,
}

/// Parses the rewind form at the server's time `now`, keeping `retention` of history.
pub fn parse_page(
    as_of: &str,
    now: DateTime<Utc>,
    retention: TimeDelta,
    prefix: Option<String>,
    remove_newer: bool,
    resume: Option<String>,
    limit: Option<serde_json::Number>,
) -> Result<RewindPage, ApiError> {
    let as_of = DateTime::parse_from_rfc3339(as_of)
        .map_err(|_| {
            ApiError::bad_request(ErrorCode::InvalidAsOf, "as_of must be an RFC 3339 time")
        })?
        .with_timezone(&Utc);
    if as_of > now {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidAsOf,
            "as_of is in the future",
        ));
    }
    // Before the history's horizon the versions between then and now may be pruned: the
    // vault as it was then is no longer known, and a rewind would take a pruned note for one
    // that did not exist.
    if as_of < now - retention {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidAsOf,
            format!(
                "as_of is older than the history kept ({} days)",
                retention.num_days()
            ),
        ));
    }
    // A folder: "thoughts" and "thoughts/" both mean the notes under thoughts/.
    let prefix = match prefix.as_deref().map(|p| p.trim_end_matches('/')) {
        None | Some("") => None,
        Some(folder) => Some(format!("{}/", VaultPath::parse(folder)?)),
    };
    let limit = match limit.map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok())) {
        None => DEFAULT_REWIND_PAGE,
        Some(Some(n)) if (1..=MAX_REWIND_PAGE).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidLimit,
                format!("limit must be 1 to {MAX_REWIND_PAGE}"),
            ));
        }
    };
    Ok(RewindPage {
        as_of,
        prefix,
        remove_newer,
        resume: resume.as_deref().map(parse_resume).transpose()?,
        limit,
    })
}

/// `r<target>.<head>.<done>`: where an earlier page of the same rewind stopped.
pub fn parse_resume(raw: &str) -> Result<RewindPosition, ApiError> {
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidCursor,
            "resume is not one a rewind answered",
        )
    };
    let numbers: Vec<i64> = raw
        .strip_prefix('r')
        .ok_or_else(bad)?
        .split('.')
        .map(|n| {
            n.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| n.parse::<i64>().ok())
                .flatten()
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    match numbers[..] {
        // Only a page with more after it answers a resume: some done, some left.
        [target_seq, head_seq, done_seq]
            if target_seq <= head_seq && 0 < done_seq && done_seq < head_seq =>
        {
            Ok(RewindPosition {
                target_seq,
                head_seq,
                done_seq,
            })
        }
        _ => Err(bad()),
    }
}

pub fn format_resume(p: &RewindPosition) -> String {
    format!("r{}.{}.{}", p.target_seq, p.head_seq, p.done_seq)
}

/// Where this page starts: from `resume` if this rewind (same `as_of`, so the same
/// `target_seq`) could have answered it (a head no later than the account's `head_seq`,
/// work left), else `None` (refused); a new rewind starts at the beginning.
pub fn start(
    resume: Option<RewindPosition>,
    target_seq: i64,
    head_seq: i64,
) -> Option<RewindPosition> {
    match resume {
        Some(p)
            if p.target_seq == target_seq && p.head_seq <= head_seq && p.done_seq < p.head_seq =>
        {
            Some(p)
        }
        Some(_) => None,
        None => Some(RewindPosition {
            target_seq,
            head_seq,
            done_seq: 0,
        }),
    }
}

/// Decides one page: `rows` (in change order) with `past`, each row's state at the
/// target; `live`, the live paths by case key of the rows' names. Deletions are decided
/// first, so the names and the room they free are there for the restores.
pub fn decide_page(
    rows: &[FileState],
    past: impl Fn(&FileState) -> Option<PastState>,
    mut live: HashMap<String, VaultPath>,
    remove_newer: bool,
    vault_size: i64,
    quota: u64,
) -> Vec<RewindDecision> {
    let mut room = Room::new(vault_size, quota);
    let mut decisions: Vec<Option<RewindDecision>> = rows
        .iter()
        .map(|row| {
            let decision = decide_rewind(row, past(row).as_ref(), None, remove_newer, &mut room);
            matches!(decision, RewindDecision::Delete { .. }).then_some(decision)
        })
        .collect();
    let freed: HashSet<String> = rows
        .iter()
        .zip(&decisions)
        .filter(|(_, d)| d.is_some())
        .map(|(row, _)| row.path.case_key())
        .collect();
    live.retain(|key, _| !freed.contains(key));
    // The room the deletions free is there for the restores.
    let mut room = Room::new(vault_size, quota);
    for decision in decisions.iter().flatten() {
        if let RewindDecision::Delete { size_delta, .. } = decision {
            room.take(*size_delta);
        }
    }
    for (row, decision) in rows.iter().zip(decisions.iter_mut()) {
        if decision.is_some() {
            continue;
        }
        let twin = live.get(&row.path.case_key()).cloned();
        let d = decide_rewind(
            row,
            past(row).as_ref(),
            twin.as_ref(),
            remove_newer,
            &mut room,
        );
        if matches!(d, RewindDecision::Restore { .. }) {
            live.insert(row.path.case_key(), row.path.clone());
        }
        *decision = Some(d);
    }
    decisions.into_iter().flatten().collect()
}

/// One page's answer (without its `resume`): each note's decision counted, or why it was
/// skipped; and the notes it changed, which the change notice names.
pub fn tally(
    outcomes: impl IntoIterator<Item = (VaultPath, RewindDecision)>,
    quota: u64,
) -> (RewindAnswer, Vec<VaultPath>) {
    let mut answer = RewindAnswer::default();
    let mut changed = Vec::new();
    for (path, decision) in outcomes {
        match decision {
            RewindDecision::Restore { .. } => {
                answer.restored += 1;
                changed.push(path);
            }
            RewindDecision::Delete { .. } => {
                answer.deleted += 1;
                changed.push(path);
            }
            RewindDecision::Unchanged => answer.unchanged += 1,
            RewindDecision::KeptNewer => answer.kept_newer += 1,
            RewindDecision::ContentGone => answer.skipped.push(Rejected::new(
                path.as_str(),
                ErrorCode::ContentGone,
                "the bytes it had then are no longer stored",
            )),
            RewindDecision::CaseConflict { existing } => answer
                .skipped
                .push(Rejected::case_conflict(&path, &existing)),
            RewindDecision::QuotaExceeded => {
                answer.skipped.push(Rejected::quota_exceeded(&path, quota))
            }
        }
    }
    (answer, changed)
}

#[cfg(test)]
#[path = "rewind_tests.rs"]
mod tests;
