//! Rows straight into the database, through the data layer's own functions: users, devices,
//! and single-file commits and deletes (one-element batches of `writes::commit_versions` and
//! `writes::delete_files`, so the sync rules decide), for tests about what comes after them.

use sqlx::PgPool;
use steel_core::db::{DeviceUpdate, Outcome, devices, users, writes};
use steel_core::domain::{
    ContentHash, DeviceId, Platform, Provider, PushEnvironment, UserId, VaultPath, Version,
};
use steel_core::vault::rules::{Content, Decision, DeleteDecision, Proposal};

/// The Apple user of subject `sub`, created if new.
pub async fn user(pool: &PgPool, sub: &str) -> UserId {
    users::find_or_create_user(pool, Provider::Apple, sub, None)
        .await
        .expect("user")
        .id
}

/// A new device of `user_id`.
pub async fn device(
    pool: &PgPool,
    user_id: UserId,
    name: &str,
    platform: Platform,
    push_token: Option<&str>,
    push_environment: PushEnvironment,
) -> DeviceId {
    devices::register_device(
        pool,
        user_id,
        &DeviceUpdate {
            device_name: name.into(),
            platform,
            push_token: push_token.map(str::to_owned),
            push_environment,
        },
    )
    .await
    .expect("device")
    .id
}

/// Commits one new version of `path` if the rules allow it on top of `base_version` (0: the
/// file must not exist), without a quota: a one-element batch of `writes::commit_versions`.
pub async fn commit_one(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
    content_hash: &ContentHash,
    size_bytes: i64,
) -> Outcome<Decision> {
    let proposal = Proposal {
        path: path.clone(),
        base: Version::new(base_version).expect("version"),
        content: Content {
            hash: *content_hash,
            size: size_bytes,
        },
    };
    // The blob, recorded as confirm records it once the bytes are checked (the commit
    // re-reads its row).
    steel_core::db::blobs::mark_verified(pool, user_id, &[(*content_hash, size_bytes)])
        .await
        .expect("blob");
    let batch = writes::commit_versions(pool, user_id, device_id, &[proposal], u64::MAX)
        .await
        .expect("commit");
    batch.outcomes.into_iter().next().expect("outcome")
}

/// Writes a tombstone for `path` if the rules allow it on top of `base_version`: a
/// one-element batch of `writes::delete_files`.
pub async fn delete_one(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    path: &VaultPath,
    base_version: i64,
) -> Outcome<DeleteDecision> {
    let deletes = [(path.clone(), Version::new(base_version).expect("version"))];
    let batch = writes::delete_files(pool, user_id, device_id, &deletes, None)
        .await
        .expect("delete");
    batch.outcomes.into_iter().next().expect("outcome")
}
