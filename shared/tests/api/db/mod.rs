//! The data layer against a real Postgres: every test gets a fresh database with the
//! embedded migrations applied (`#[sqlx::test]`, `DATABASE_URL` from `scripts/services.sh`).

mod batch;
mod cursor;
mod devices;
mod invariants;
mod paging;
mod pooler;
mod schema;
mod users;
mod versions;

use sqlx::PgPool;
use steel_core::db::{DeviceUpdate, FileState, Outcome, writes};
use steel_core::domain::{
    ContentHash, Cursor, DeviceId, Platform, PushEnvironment, UserId, VaultPath, Version,
};
use steel_core::vault::rules::{Content, Decision, DeleteDecision, Proposal};

use crate::support::seed;

fn path(p: &str) -> VaultPath {
    VaultPath::parse(p).expect("valid path")
}

fn hash(content: &str) -> ContentHash {
    ContentHash::of(content.as_bytes())
}

/// Anna's iPhone, with `token` as its push token.
fn phone(token: Option<&str>) -> DeviceUpdate {
    DeviceUpdate {
        device_name: "Anna's iPhone".into(),
        platform: Platform::Ios,
        push_token: token.map(str::to_owned),
        push_environment: PushEnvironment::Production,
    }
}

/// A file's outcome in the words of these tests, from a batch's decision and row.
#[derive(Debug, PartialEq)]
pub enum CommitOutcome {
    Committed(FileState),
    AlreadyCommitted(FileState),
    Conflict { current: Option<FileState> },
    CaseConflict { existing: VaultPath },
    QuotaExceeded,
}

impl From<Outcome<Decision>> for CommitOutcome {
    fn from(o: Outcome<Decision>) -> Self {
        match (o.decision, o.row) {
            (Decision::Write { .. }, Some(row)) => CommitOutcome::Committed(row),
            (Decision::Unchanged, Some(row)) => CommitOutcome::AlreadyCommitted(row),
            (Decision::CaseConflict { existing }, _) => CommitOutcome::CaseConflict { existing },
            (Decision::QuotaExceeded, _) => CommitOutcome::QuotaExceeded,
            (_, current) => CommitOutcome::Conflict { current },
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum DeleteOutcome {
    Deleted(FileState),
    AlreadyDeleted(FileState),
    Conflict { current: FileState },
    NotFound,
}

impl From<Outcome<DeleteDecision>> for DeleteOutcome {
    fn from(o: Outcome<DeleteDecision>) -> Self {
        match (o.decision, o.row) {
            (DeleteDecision::Tombstone { .. }, Some(row)) => DeleteOutcome::Deleted(row),
            (DeleteDecision::AlreadyDeleted, Some(row)) => DeleteOutcome::AlreadyDeleted(row),
            (DeleteDecision::Conflict, Some(current)) => DeleteOutcome::Conflict { current },
            _ => DeleteOutcome::NotFound,
        }
    }
}

pub struct NewVersion {
    pub path: VaultPath,
    pub base_version: i64,
    pub content_hash: ContentHash,
    pub size_bytes: i64,
}

/// One batch commit through the production path; `quota`: none = unlimited.
pub async fn commit_versions(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    files: &[NewVersion],
    quota: Option<i64>,
) -> Result<(Vec<CommitOutcome>, Cursor), writes::WriteError> {
    let proposals: Vec<Proposal> = files
        .iter()
        .map(|f| Proposal {
            path: f.path.clone(),
            base: Version::new(f.base_version).expect("version"),
            content: Content {
                hash: f.content_hash,
                size: f.size_bytes,
            },
        })
        .collect();
    let quota = quota.map_or(u64::MAX, |q| u64::try_from(q).expect("quota"));
    // The blobs, recorded as confirm records them once the bytes are checked (the commit
    // re-reads their rows). For a user that does not exist the insert fails on its foreign
    // key, and the commit answers `UserGone` as it should.
    let blobs: Vec<(ContentHash, i64)> = files
        .iter()
        .map(|f| (f.content_hash, f.size_bytes))
        .collect();
    let _ = steel_core::db::blobs::mark_verified(pool, user_id, &blobs).await;
    let batch = writes::commit_versions(pool, user_id, device_id, &proposals, quota).await?;
    Ok((
        batch
            .outcomes
            .into_iter()
            .map(CommitOutcome::from)
            .collect(),
        batch.cursor,
    ))
}

/// One version of one file through the production path, in the words of these tests.
pub async fn commit_one(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
    content_hash: &ContentHash,
    size_bytes: i64,
) -> CommitOutcome {
    seed::commit_one(
        pool,
        user_id,
        device_id,
        path,
        base_version,
        content_hash,
        size_bytes,
    )
    .await
    .into()
}

/// One tombstone through the production path, in the words of these tests.
pub async fn delete_one(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
) -> DeleteOutcome {
    seed::delete_one(pool, user_id, device_id, path, base_version)
        .await
        .into()
}
