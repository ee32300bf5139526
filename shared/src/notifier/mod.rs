//! The notifier: change notices from SQS in, silent pushes to the user's other Apple devices
//! out, so they sync without waiting for the next launch.
//!
//! Notices of one user in one batch are coalesced into one push per device carrying the
//! highest cursor. A notice whose pushes were all delivered (or failed for good) is done; a
//! notice of a user with a retryable failure is handed back to SQS (partial batch response).
//! A malformed notice is logged and dropped: retrying it would never help.

pub mod apns;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::db::{Device, devices, users};
use crate::domain::{Cursor, DeviceId, Platform, UserId, VaultPath};
use crate::messages::ChangeNotice;
use apns::{ApnsClient, PushResult};

/// APNs refuses payloads over 4 KB.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// The notices of one user in this batch.
#[derive(Default)]
struct UserBatch {
    message_ids: Vec<String>,
    cursor: Cursor,
    paths: Vec<VaultPath>,
    /// Any notice without a path list means "sync everything".
    full_sync: bool,
    /// Devices that caused every notice: they already have the changes.
    origins: Option<HashSet<Option<DeviceId>>>,
}

/// The APNs payload: wake the app, tell it how far to sync, and what changed when that fits.
pub fn payload(cursor: Cursor, paths: Option<&[VaultPath]>) -> String {
    if let Some(paths) = paths {
        let with_paths =
            json!({"aps": {"content-available": 1}, "cursor": cursor, "paths": paths}).to_string();
        if with_paths.len() <= MAX_PAYLOAD_BYTES {
            return with_paths;
        }
    }
    json!({"aps": {"content-available": 1}, "cursor": cursor}).to_string()
}

/// Handles one SQS batch and answers which messages SQS should retry.
pub async fn handle_batch(
    db: &sqlx::PgPool,
    apns: &Arc<ApnsClient>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut batches: BTreeMap<UserId, UserBatch> = BTreeMap::new();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        let notice: ChangeNotice = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(n)) => n,
            other => {
                let error = match other {
                    Some(Err(e)) => e.to_string(),
                    _ => "empty body".into(),
                };
                tracing::warn!(message_id = id, error, "malformed change notice dropped");
                continue;
            }
        };
        let batch = batches.entry(notice.user_id).or_default();
        batch.message_ids.push(id);
        batch.cursor = batch.cursor.max(notice.cursor);
        match notice.paths {
            Some(paths) => {
                for p in paths {
                    if !batch.paths.contains(&p) {
                        batch.paths.push(p);
                    }
                }
            }
            None => batch.full_sync = true,
        }
        let origin = HashSet::from([notice.origin_device_id]);
        batch.origins = Some(match batch.origins.take() {
            None => origin,
            Some(seen) => seen.intersection(&origin).copied().collect(),
        });
    }

    let mut failures = Vec::new();
    for (user_id, batch) in batches {
        match notify_user(db, apns, user_id, &batch).await {
            Ok(true) => {}
            Ok(false) => failures.extend(batch.message_ids),
            Err(err) => {
                tracing::error!(%user_id, error = %err, "notifier: database error; notices will be retried");
                failures.extend(batch.message_ids);
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    response
}

/// Pushes to the user's devices; `Ok(false)` when some push should be retried.
async fn notify_user(
    db: &sqlx::PgPool,
    apns: &Arc<ApnsClient>,
    user_id: UserId,
    batch: &UserBatch,
) -> Result<bool, sqlx::Error> {
    if users::get_user(db, user_id).await?.is_none() {
        tracing::warn!(%user_id, "change notice for an unknown user dropped");
        return Ok(true);
    }
    let origins = batch.origins.clone().unwrap_or_default();
    let targets: Vec<Device> = devices::get_user_devices(db, user_id)
        .await?
        .into_iter()
        .filter(|d| d.push_token.is_some() && !origins.contains(&Some(d.id)))
        .collect();
    let body = payload(batch.cursor, (!batch.full_sync).then_some(&batch.paths[..]));
    // One collapse id per user: a newer notice replaces an undelivered older one.
    let collapse_id = format!("vault-{user_id}");
    let mut sends = tokio::task::JoinSet::new();
    for device in targets {
        if !matches!(device.platform, Platform::Ios | Platform::Macos) {
            tracing::info!(device_id = %device.id, platform = %device.platform, "no push service for this platform yet: skipped");
            continue;
        }
        let (apns, body, collapse_id) = (apns.clone(), body.clone(), collapse_id.clone());
        sends.spawn(async move {
            let token = device.push_token.clone().unwrap_or_default();
            let result = apns
                .send(device.push_environment, &token, &body, &collapse_id)
                .await;
            (device, token, result)
        });
    }
    let mut all_done = true;
    while let Some(joined) = sends.join_next().await {
        let Ok((device, token, result)) = joined else {
            all_done = false;
            continue;
        };
        match result {
            PushResult::Delivered => {
                tracing::info!(device_id = %device.id, cursor = %batch.cursor, "push delivered")
            }
            PushResult::Unregistered { timestamp_ms } => {
                let since = timestamp_ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single());
                let cleared = devices::clear_push_token(db, device.id, &token, since).await?;
                tracing::info!(device_id = %device.id, cleared, "APNs: token unregistered");
            }
            PushResult::BadToken => {
                let cleared = devices::clear_push_token(db, device.id, &token, None).await?;
                tracing::info!(device_id = %device.id, cleared, "APNs: bad device token");
            }
            PushResult::Retryable(why) => {
                tracing::warn!(device_id = %device.id, why, "push failed; will retry");
                all_done = false;
            }
            PushResult::Failed(why) => {
                tracing::error!(device_id = %device.id, why, "push failed for good")
            }
        }
    }
    Ok(all_done)
}
