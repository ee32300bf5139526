//! Rewinding the vault (or a folder) to a moment, page by page, as `db::recovery::rewind_page`
//! and `handlers/restore.rs` do it: the form parsed, the resume checked, each page decided and
//! answered by the same pure functions (`vault::rewind`); only loading and writing are here.
//! A version a rewind writes is marked `restored` (a deliberate recovery) and copies the
//! sealed fields of the version it brings back or deletes.

use std::collections::HashMap;

use steel_core::domain::{DeviceId, VaultPath};
use steel_core::vault::recovery::{PastState, RewindDecision};
use steel_core::vault::rewind::{self, RewindPage, format_resume};
use steel_core::vault::rules::{Content, FileState};
use steel_core::vault::sealed_shape::sealed_rewind_answer;
use steel_protocol::error::ErrorCode;
use steel_protocol::wire::{RestoreRequest, RewindAnswer};

use super::{Answer, Sealing, Server, WriteRow, api_error, parse};

/// A note's newest version at the target: its content, whether a deletion, its version.
type Then = (Content, bool, i64);

impl Server {
    /// A rewind of an encrypted account, as `handlers/sealed/restore.rs` answers it: the
    /// whole vault only; `either`, the refusal of a body that is neither form.
    pub(super) fn sealed_rewind(
        &mut self,
        device: Option<DeviceId>,
        body: &[u8],
        either: Answer,
    ) -> Result<Answer, Answer> {
        let form: RestoreRequest = parse(body)?;
        if form.as_of.is_none() {
            return Err(either);
        }
        if form.prefix.is_some() {
            return Err(Answer::error(
                400,
                ErrorCode::InvalidRequest,
                "an encrypted vault is rewound whole: the server knows no folders (no \
                 \"prefix\")",
            ));
        }
        let page = self.rewind_form(form)?;
        let done = self.rewind(device, &page)?;
        Ok(Answer::ok(&sealed_rewind_answer(done)))
    }

    /// Parses the rewind form of `body` at the server's clock (`prefix` as given: the
    /// encrypted shape refuses one before this).
    pub(super) fn rewind_form(&self, body: RestoreRequest) -> Result<RewindPage, Answer> {
        let as_of = body.as_of.unwrap_or_default();
        rewind::parse_page(
            &as_of,
            self.now,
            self.limits.history_retention,
            body.prefix,
            body.remove_newer,
            body.resume,
            body.limit,
        )
        .map_err(api_error)
    }

    /// One page of a rewind, answered as `handlers::restore::rewind` answers it.
    pub(super) fn rewind(
        &mut self,
        device: Option<DeviceId>,
        page: &RewindPage,
    ) -> Result<RewindAnswer, Answer> {
        // The last change at or before the moment (latest stamp, then latest sequence).
        let target_seq = (self.history.iter())
            .filter(|h| h.created_at <= page.as_of)
            .max_by_key(|h| (h.created_at, h.change_seq))
            .map_or(0, |h| h.change_seq);
        let position =
            rewind::start(page.resume, target_seq, self.change_seq).ok_or_else(|| {
                Answer::error(
                    400,
                    ErrorCode::InvalidCursor,
                    "resume is not one a rewind answered (send the same as_of it came with)",
                )
            })?;
        let mut rows: Vec<FileState> = (self.files.values())
            .filter(|f| f.change_seq > position.done_seq && f.change_seq <= position.head_seq)
            .filter(|f| (page.prefix.as_deref()).is_none_or(|p| f.path.as_str().starts_with(p)))
            .cloned()
            .collect();
        rows.sort_by_key(|f| f.change_seq);
        let has_more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);

        let mut then: HashMap<VaultPath, Then> = HashMap::new();
        for h in &self.history {
            let wanted = h.change_seq <= position.target_seq
                && rows.iter().any(|r| r.path == h.path)
                && then.get(&h.path).is_none_or(|t| t.2 < h.version);
            if wanted {
                let content = Content {
                    hash: h.content_hash,
                    size: h.size_bytes,
                };
                then.insert(h.path.clone(), (content, h.is_deleted, h.version));
            }
        }
        let past = |row: &FileState| {
            then.get(&row.path)
                .map(|(content, is_deleted, _)| PastState {
                    content: *content,
                    is_deleted: *is_deleted,
                    stored: self.verified.contains_key(&content.hash),
                })
        };
        let paths: Vec<&VaultPath> = rows.iter().map(|r| &r.path).collect();
        let decisions = rewind::decide_page(
            &rows,
            past,
            self.live_keys(&paths),
            page.remove_newer,
            self.vault_size,
            self.limits.vault_quota_bytes,
        );
        for (row, decision) in rows.iter().zip(&decisions) {
            let write = match decision {
                RewindDecision::Restore {
                    version,
                    size_delta,
                } => then.get(&row.path).map(|(content, _, from)| WriteRow {
                    path: row.path.clone(),
                    version: version.get(),
                    hash: content.hash,
                    size: content.size,
                    deleted: false,
                    size_delta: *size_delta,
                    sealing: Sealing::CopyFrom(*from),
                }),
                // The tombstone keeps the hash and size of what it deleted.
                RewindDecision::Delete {
                    version,
                    size_delta,
                } => Some(WriteRow {
                    path: row.path.clone(),
                    version: version.get(),
                    hash: row.content_hash,
                    size: row.size_bytes,
                    deleted: true,
                    size_delta: *size_delta,
                    sealing: Sealing::CopyFrom(row.version),
                }),
                _ => None,
            };
            if let Some(write) = write {
                self.write_row(write, device, true);
            }
        }
        let done_seq = rows.last().map_or(position.done_seq, |r| r.change_seq);
        let decided = rows.into_iter().map(|r| r.path).zip(decisions);
        let (mut answer, _) = rewind::tally(decided, self.limits.vault_quota_bytes);
        answer.has_more = has_more;
        answer.resume = has_more.then(|| {
            format_resume(&rewind::RewindPosition {
                done_seq,
                ..position
            })
        });
        Ok(answer)
    }
}
