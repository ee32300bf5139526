//! The notifier: change notices from SQS in, silent pushes to the user's other devices out
//! (APNs for iPhones and Macs, FCM for Android), so they sync without waiting for the next
//! launch.
//!
//! Notices of one user in one batch are coalesced into one push per device carrying the
//! highest cursor. A notice whose pushes were all delivered (or failed for good) is done; a
//! notice of a user with a retryable failure is handed back to SQS (partial batch response).
//! A malformed notice is logged and dropped: retrying it would never help.

pub mod apns;
pub mod fcm;
pub mod google_auth;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::db::{Device, devices, users};
use crate::domain::{Cursor, DeviceId, Platform, UserId, VaultPath};
use crate::messages::ChangeNotice;
use apns::{ApnsClient, PushResult};
use fcm::FcmClient;

/// Pushes in flight at once for one batch (APNs and FCM together).
const MAX_SENDS: usize = 32;

/// The push services this notifier has keys for: at least one.
#[derive(Clone, Default)]
pub struct Pushers {
    pub apns: Option<Arc<ApnsClient>>,
    pub fcm: Option<Arc<FcmClient>>,
}

impl Pushers {
    pub fn apns(client: Arc<ApnsClient>) -> Self {
        Pushers {
            apns: Some(client),
            fcm: None,
        }
    }

    /// The services `config` has keys for; an error if it has none, or a key is unusable.
    pub fn from_config(config: &crate::Config) -> Result<Self, anyhow::Error> {
        let apns = match config.apns.key {
            Some(_) => Some(Arc::new(ApnsClient::new(
                config.require_apns()?,
                Default::default(),
            )?)),
            None => None,
        };
        let fcm = match config.fcm.service_account {
            Some(_) => Some(Arc::new(FcmClient::new(&config.fcm)?)),
            None => None,
        };
        anyhow::ensure!(
            apns.is_some() || fcm.is_some(),
            "neither APNS_KEY nor FCM_SERVICE_ACCOUNT is set: the notifier has nothing to push with"
        );
        Ok(Pushers { apns, fcm })
    }
}

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
    pushers: &Pushers,
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
        match notify_user(db, pushers, user_id, &batch).await {
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

/// Pushes to the user's devices; `Ok(false)` when some push should be retried. APNs and FCM
/// sends run side by side (at most [`MAX_SENDS`] at once): one service failing holds back
/// none of the other's devices.
async fn notify_user(
    db: &sqlx::PgPool,
    pushers: &Pushers,
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
    let paths = (!batch.full_sync).then_some(&batch.paths[..]);
    let apns_body = payload(batch.cursor, paths);
    let fcm_data = Arc::new(fcm::data(batch.cursor, paths));
    // One collapse id (APNs) / key (FCM) per user: a newer notice replaces an undelivered one.
    let collapse = format!("vault-{user_id}");
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_SENDS));
    let mut sends = tokio::task::JoinSet::new();
    for device in targets {
        let token = device.push_token.clone().unwrap_or_default();
        let collapse = collapse.clone();
        let limit = limit.clone();
        match (device.platform, &pushers.apns, &pushers.fcm) {
            (Platform::Ios | Platform::Macos, Some(apns), _) => {
                let (apns, body) = (apns.clone(), apns_body.clone());
                sends.spawn(async move {
                    let _slot = limit.acquire_owned().await;
                    let result = apns
                        .send(device.push_environment, &token, &body, &collapse)
                        .await;
                    (device, token, result)
                });
            }
            (Platform::Android, _, Some(fcm)) => {
                let (fcm, data) = (fcm.clone(), fcm_data.clone());
                sends.spawn(async move {
                    let _slot = limit.acquire_owned().await;
                    let result = fcm.send(&token, &data, &collapse).await;
                    (device, token, result)
                });
            }
            _ => {
                tracing::info!(device_id = %device.id, platform = %device.platform, "no push service configured for this platform: skipped");
            }
        }
    }
    let mut all_done = true;
    while let Some(joined) = sends.join_next().await {
        let Ok((device, token, result)) = joined else {
            all_done = false;
            continue;
        };
        let service = match device.platform {
            Platform::Android => "FCM",
            _ => "APNs",
        };
        match result {
            PushResult::Delivered => {
                tracing::info!(device_id = %device.id, cursor = %batch.cursor, service, "push delivered")
            }
            PushResult::Unregistered { timestamp_ms } => {
                let since = timestamp_ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single());
                let cleared = devices::clear_push_token(db, device.id, &token, since).await?;
                tracing::info!(device_id = %device.id, cleared, service, "token unregistered");
            }
            PushResult::BadToken => {
                let cleared = devices::clear_push_token(db, device.id, &token, None).await?;
                tracing::info!(device_id = %device.id, cleared, service, "token refused for good");
            }
            PushResult::Retryable(why) => {
                tracing::warn!(device_id = %device.id, why, service, "push failed; will retry");
                all_done = false;
            }
            PushResult::Failed(why) => {
                tracing::error!(device_id = %device.id, why, service, "push failed for good")
            }
        }
    }
    Ok(all_done)
}
