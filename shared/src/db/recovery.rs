//! Getting notes back: restoring past versions and rewinding a vault (or a folder) to a
//! moment. Both only add versions, on top of the current ones, in one transaction per
//! request with a fixed number of statements; what each note gets is decided by
//! [`crate::vault::rules`] and [`crate::vault::recovery`].

use std::collections::HashMap;

use sqlx::PgPool;

use crate::db::files::{self, PastVersion};
use crate::db::files::{FILE_COLUMNS, FileState, live_keys};
use crate::db::history;
use crate::db::writes::{
    Batch, Outcome, Sealing, WriteError, Writes, lock_files, lock_user, outcomes,
};
use crate::domain::{ContentHash, Cursor, DeviceId, UserId, VaultPath, Version};
use crate::vault::recovery::{PastState, RewindDecision};
use crate::vault::rewind;
use crate::vault::rules::{self, Content, Decision, Proposal, Room};

/// A restore of one note: the bytes of `version` as the new version on top of `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    pub path: VaultPath,
    pub version: Version,
    pub base: Version,
}

/// What a restore did to one note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreDecision {
    /// The rules' decision for writing the past version's bytes.
    Write(Decision),
    /// No such version of this path.
    NotFound,
    /// That version is a deletion: there are no bytes to bring back.
    IsDeletion,
    /// The version's bytes are no longer stored.
    ContentGone,
}

/// Restores every note the rules allow, in one transaction: lock the user, read the
/// versions, lock their blobs, lock the files, read case twins, write. Paths must be
/// distinct.
pub async fn restore_versions(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    requests: &[RestoreRequest],
    quota: u64,
) -> Result<Batch<RestoreDecision>, WriteError> {
    let mut tx = pool.begin().await?;
    let (seq, vault_size, _) = lock_user(&mut tx, user_id).await?;
    let wanted: Vec<(VaultPath, i64)> = requests
        .iter()
        .map(|r| (r.path.clone(), r.version.get()))
        .collect();
    let sources = files::get_versions(&mut *tx, user_id, &wanted).await?;
    let hashes: Vec<ContentHash> = sources.values().map(|s| s.content_hash).collect();
    let stored = history::lock_stored(&mut tx, user_id, &hashes).await?;

    // The notes whose past bytes can come back go to the rules like any write.
    let mut decisions: Vec<Option<RestoreDecision>> = Vec::with_capacity(requests.len());
    let mut proposals = Vec::new();
    // The version each restored note copies (its sealed fields, in an encrypted account).
    let mut source_of: HashMap<VaultPath, i64> = HashMap::new();
    for r in requests {
        let decision = match sources.get(&(r.path.clone(), r.version.get())) {
            None => Some(RestoreDecision::NotFound),
            Some(PastVersion {
                is_deleted: true, ..
            }) => Some(RestoreDecision::IsDeletion),
            Some(s) if !stored.contains(&s.content_hash) => Some(RestoreDecision::ContentGone),
            Some(s) => {
                source_of.insert(r.path.clone(), r.version.get());
                proposals.push(Proposal {
                    path: r.path.clone(),
                    base: r.base,
                    content: Content {
                        hash: s.content_hash,
                        size: s.size_bytes,
                    },
                });
                None
            }
        };
        decisions.push(decision);
    }
    let paths: Vec<&VaultPath> = requests.iter().map(|r| &r.path).collect();
    let current = lock_files(&mut tx, user_id, &paths).await?;
    let live = live_keys(&mut tx, user_id, &paths).await?;
    let room = Room::new(vault_size, quota);
    let mut written_decisions =
        rules::decide_writes(&proposals, &current, &live, device_id, room).into_iter();
    let mut writes = Writes::starting_at(seq);
    let mut proposal_of = proposals.iter();
    let decisions: Vec<RestoreDecision> = decisions
        .into_iter()
        .map(|d| match d {
            Some(d) => d,
            None => {
                let decision = written_decisions.next().unwrap_or(Decision::Conflict);
                if let (
                    Some(p),
                    Decision::Write {
                        version,
                        size_delta,
                    },
                ) = (proposal_of.next(), &decision)
                {
                    let (hash, size) = (&p.content.hash, p.content.size);
                    let from = source_of.get(&p.path).map(|v| Sealing::CopyFrom(*v));
                    writes.push(
                        &p.path,
                        *version,
                        Content { hash: *hash, size },
                        false,
                        *size_delta,
                        from,
                    );
                }
                RestoreDecision::Write(decision)
            }
        })
        .collect();
    let written = writes.commit(tx, user_id, device_id).await?;
    Ok(Batch {
        outcomes: outcomes(
            decisions,
            requests.iter().map(|r| r.path.clone()),
            current,
            written,
        ),
        cursor: Cursor::from_seq(writes.seq),
    })
}

pub use crate::vault::rewind::{RewindPage, RewindPosition};

/// What one page did: each note's decision, the position to resume from, and whether
/// notes remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewoundPage {
    pub outcomes: Vec<Outcome<RewindDecision>>,
    /// The user's cursor after the page (what its change notice carries).
    pub cursor: Cursor,
    pub position: RewindPosition,
    pub has_more: bool,
}

/// Rewinds one page of notes (in change order, at most `limit`), in one transaction with a
/// fixed number of statements, whatever the vault's size.
pub async fn rewind_page(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    page: &RewindPage,
    quota: u64,
) -> Result<RewoundPage, WriteError> {
    let mut tx = pool.begin().await?;
    let (seq, vault_size, _) = lock_user(&mut tx, user_id).await?;
    // The last change at or before the moment (versions are stamped in commit order, see
    // `Writes::commit`). Asked on every page: a resume must name the same target.
    let target: Option<i64> = super::query_scalar(
        "SELECT change_seq FROM file_versions
         WHERE user_id = $1 AND created_at <= $2
         ORDER BY created_at DESC, change_seq DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(page.as_of)
    .fetch_optional(&mut *tx)
    .await?;
    let target_seq = target.unwrap_or(0);
    // A resume this rewind (same `as_of`) could have answered.
    let position = rewind::start(page.resume, target_seq, seq).ok_or(WriteError::InvalidResume)?;
    let rows: Vec<FileState> = super::query_as(&format!(
        "SELECT {FILE_COLUMNS} FROM file_state
         WHERE user_id = $1 AND change_seq > $2 AND change_seq <= $3
           AND ($4::TEXT IS NULL OR starts_with(path, $4))
         ORDER BY change_seq
         LIMIT $5
         FOR UPDATE"
    ))
    .bind(user_id)
    .bind(position.done_seq)
    .bind(position.head_seq)
    .bind(page.prefix.as_deref())
    .bind(i64::from(page.limit) + 1)
    .fetch_all(&mut *tx)
    .await?;
    let has_more = rows.len() > page.limit as usize;
    let rows: Vec<FileState> = rows.into_iter().take(page.limit as usize).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();

    // Each note's newest version at the target.
    let then: Vec<(String, String, i64, bool, i64)> = super::query_as(
        "SELECT DISTINCT ON (path) path, content_hash, size_bytes, is_deleted, version
         FROM file_versions
         WHERE user_id = $1 AND path = ANY($2::TEXT[]) AND change_seq <= $3
         ORDER BY path, version DESC",
    )
    .bind(user_id)
    .bind(&names)
    .bind(position.target_seq)
    .fetch_all(&mut *tx)
    .await?;
    let then_version: HashMap<String, i64> = then
        .iter()
        .map(|(path, .., v)| (path.clone(), *v))
        .collect();
    let then: HashMap<String, (Content, bool)> = then
        .into_iter()
        .filter_map(|(path, hash, size, deleted, _)| {
            let hash = ContentHash::parse(&hash).ok()?;
            Some((path, (Content { hash, size }, deleted)))
        })
        .collect();
    let hashes: Vec<ContentHash> = then.values().map(|(c, _)| c.hash).collect();
    let stored = history::lock_stored(&mut tx, user_id, &hashes).await?;
    let paths: Vec<&VaultPath> = rows.iter().map(|r| &r.path).collect();

    let past = |row: &FileState| {
        then.get(row.path.as_str())
            .map(|(content, is_deleted)| PastState {
                content: *content,
                is_deleted: *is_deleted,
                stored: stored.contains(&content.hash),
            })
    };
    let decisions = rewind::decide_page(
        &rows,
        past,
        live_keys(&mut tx, user_id, &paths).await?,
        page.remove_newer,
        vault_size,
        quota,
    );
    let mut writes = Writes::starting_at(seq);
    for (row, decision) in rows.iter().zip(&decisions) {
        match decision {
            RewindDecision::Restore {
                version,
                size_delta,
            } => {
                if let Some(p) = past(row) {
                    let (hash, size) = (&p.content.hash, p.content.size);
                    let from = then_version
                        .get(row.path.as_str())
                        .map(|v| Sealing::CopyFrom(*v));
                    writes.push(
                        &row.path,
                        *version,
                        Content { hash: *hash, size },
                        false,
                        *size_delta,
                        from,
                    );
                }
            }
            // The tombstone keeps the hash and size of what it deleted.
            RewindDecision::Delete {
                version,
                size_delta,
            } => {
                let (hash, size) = (&row.content_hash, row.size_bytes);
                let from = Some(Sealing::CopyFrom(row.version));
                writes.push(
                    &row.path,
                    *version,
                    Content { hash: *hash, size },
                    true,
                    *size_delta,
                    from,
                );
            }
            _ => {}
        }
    }
    let done_seq = rows.last().map_or(position.done_seq, |r| r.change_seq);
    let before: HashMap<VaultPath, FileState> =
        rows.iter().map(|r| (r.path.clone(), r.clone())).collect();
    let paths: Vec<VaultPath> = rows.iter().map(|r| r.path.clone()).collect();
    let written = writes.commit(tx, user_id, device_id).await?;
    Ok(RewoundPage {
        outcomes: outcomes(decisions, paths.into_iter(), before, written),
        cursor: Cursor::from_seq(writes.seq),
        position: RewindPosition {
            done_seq,
            ..position
        },
        has_more,
    })
}
