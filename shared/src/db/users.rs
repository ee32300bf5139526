//! Users: one row per identity-provider account, holding the change counter and vault size.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use crate::domain::{DeviceId, Provider, UserId};

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct User {
    pub id: UserId,
    #[sqlx(try_from = "String")]
    pub provider: Provider,
    pub provider_sub: String,
    pub email: Option<String>,
    pub vault_size: i64,
    pub change_seq: i64,
    /// The highest version of a compacted tombstone: new notes start above it.
    pub compacted_version: i64,
    pub created_at: DateTime<Utc>,
}

const USER_COLUMNS: &str =
    "id, provider, provider_sub, email, vault_size, change_seq, compacted_version, created_at";

/// The user for this provider identity, created on first sight.
///
/// One statement, so two concurrent first logins of the same identity make one user: the
/// loser of the insert race takes the `DO UPDATE` branch and gets the winner's row. A newer
/// non-empty email replaces the stored one (Apple only sends it on the first login).
pub async fn find_or_create_user(
    pool: &PgPool,
    provider: Provider,
    provider_sub: &str,
    email: Option<&str>,
) -> Result<User, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let found = super::query_as(&format!(
        "INSERT INTO users (provider, provider_sub, email) VALUES ($1, $2, $3)
         ON CONFLICT (provider, provider_sub) DO UPDATE
            SET email = COALESCE(EXCLUDED.email, users.email), updated_at = now()
         RETURNING {USER_COLUMNS}"
    ))
    .bind(provider.as_str())
    .bind(provider_sub)
    .bind(email.filter(|e| !e.is_empty()))
    .fetch_one(&mut *one)
    .await?;
    one.done().await?;
    Ok(found)
}

pub async fn get_user(pool: &PgPool, user_id: UserId) -> Result<Option<User>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let found = super::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(user_id)
        .fetch_optional(&mut *one)
        .await?;
    one.done().await?;
    Ok(found)
}

/// Whether the user still exists and, for a token bound to a device, that device is still
/// signed in: the bearer check's one indexed query.
pub async fn is_active(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
) -> Result<bool, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let found = super::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM users u
             WHERE u.id = $1
               AND ($2::UUID IS NULL
                    OR EXISTS (SELECT 1 FROM devices d
                               WHERE d.id = $2 AND d.user_id = u.id AND d.removed_at IS NULL)))",
    )
    .bind(user_id)
    .bind(device_id)
    .fetch_one(&mut *one)
    .await?;
    one.done().await?;
    Ok(found)
}
