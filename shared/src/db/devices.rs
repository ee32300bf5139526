//! Devices: app installs of a user, with their push token.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::domain::{DeviceId, Platform, PushEnvironment, UserId};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Device {
    pub id: DeviceId,
    pub user_id: UserId,
    pub device_name: String,
    #[sqlx(try_from = "String")]
    pub platform: Platform,
    pub push_token: Option<String>,
    #[sqlx(try_from = "String")]
    pub push_environment: PushEnvironment,
    pub push_token_updated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
}

/// What a client says about its device at login or registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUpdate {
    pub device_name: String,
    pub platform: Platform,
    pub push_token: Option<String>,
    pub push_environment: PushEnvironment,
}

const DEVICE_COLUMNS: &str = "id, user_id, device_name, platform, push_token, push_environment, \
     push_token_updated_at, created_at, last_seen_at, removed_at";

/// Creates a device for `user_id`. A push token another device of the user holds moves here:
/// APNs tokens follow an app install, so the old device row has lost it.
pub async fn register_device(
    pool: &PgPool,
    user_id: UserId,
    device: &DeviceUpdate,
) -> Result<Device, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let created = register_device_in(&mut tx, user_id, device).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`register_device`] inside the caller's transaction.
pub async fn register_device_in(
    conn: &mut PgConnection,
    user_id: UserId,
    device: &DeviceUpdate,
) -> Result<Device, sqlx::Error> {
    release_push_token(conn, user_id, None, device.push_token.as_deref()).await?;
    super::query_as(&format!(
        "INSERT INTO devices (user_id, device_name, platform, push_token, push_environment,
                              push_token_updated_at)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $4::TEXT IS NULL THEN NULL ELSE now() END)
         RETURNING {DEVICE_COLUMNS}"
    ))
    .bind(user_id)
    .bind(&device.device_name)
    .bind(device.platform.as_str())
    .bind(device.push_token.as_deref())
    .bind(device.push_environment.as_str())
    .fetch_one(conn)
    .await
}

/// Updates the caller's own device; `None` when it is not a device of `user_id`.
/// Idempotent: the same update twice leaves the same row (only `last_seen_at` moves).
pub async fn update_device(
    pool: &PgPool,
    user_id: UserId,
    device_id: DeviceId,
    device: &DeviceUpdate,
) -> Result<Option<Device>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    release_push_token(
        &mut tx,
        user_id,
        Some(device_id),
        device.push_token.as_deref(),
    )
    .await?;
    let updated = super::query_as(&format!(
        "UPDATE devices SET
             device_name = $3,
             platform = $4,
             push_token_updated_at = CASE
                 WHEN $5::TEXT IS NULL THEN NULL
                 WHEN push_token IS DISTINCT FROM $5 THEN now()
                 ELSE push_token_updated_at END,
             push_token = $5,
             push_environment = $6,
             last_seen_at = now()
         WHERE id = $2 AND user_id = $1 AND removed_at IS NULL
         RETURNING {DEVICE_COLUMNS}"
    ))
    .bind(user_id)
    .bind(device_id)
    .bind(&device.device_name)
    .bind(device.platform.as_str())
    .bind(device.push_token.as_deref())
    .bind(device.push_environment.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(updated)
}

async fn release_push_token(
    conn: &mut PgConnection,
    user_id: UserId,
    keeper: Option<DeviceId>,
    push_token: Option<&str>,
) -> Result<(), sqlx::Error> {
    let Some(token) = push_token else {
        return Ok(());
    };
    super::query(
        "UPDATE devices SET push_token = NULL, push_token_updated_at = NULL
         WHERE user_id = $1 AND push_token = $2 AND id IS DISTINCT FROM $3",
    )
    .bind(user_id)
    .bind(token)
    .bind(keeper)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's active (not removed) devices, oldest first.
pub async fn get_user_devices(pool: &PgPool, user_id: UserId) -> Result<Vec<Device>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let found = super::query_as(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices
         WHERE user_id = $1 AND removed_at IS NULL ORDER BY created_at, id"
    ))
    .bind(user_id)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    Ok(found)
}

/// Clears a device's push token after the push service refused it, unless the token changed
/// meanwhile or was registered after the service saw it become invalid (`invalid_since`).
/// Returns whether it was cleared.
pub async fn clear_push_token(
    db: &PgPool,
    device_id: DeviceId,
    token: &str,
    invalid_since: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let mut one = super::single(db).await?;
    let done = super::query(
        "UPDATE devices SET push_token = NULL, push_token_updated_at = NULL
         WHERE id = $1 AND push_token = $2
           AND ($3::TIMESTAMPTZ IS NULL OR push_token_updated_at IS NULL OR push_token_updated_at < $3)",
    )
    .bind(device_id)
    .bind(token)
    .bind(invalid_since)
    .execute(&mut *one)
    .await?;
    one.done().await?;
    Ok(done.rows_affected() == 1)
}
