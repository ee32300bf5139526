//! Refresh tokens: stored as SHA-256 hashes, grouped in families, rotated on every use.
//!
//! A family starts at login (or device registration) and every refresh replaces its live
//! token with its successor. Presenting a token that was already used means two parties
//! hold copies of it (a stolen token or a replay), so the whole family is revoked, with one
//! exception: the same token again within [`RETRY_GRACE`] of its use, while its successor
//! is still unused, is the same client retrying a refresh whose answer it lost; it gets the
//! same successor again (the successor is derived from the token, see
//! [`crate::auth::tokens::TokenIssuer::successor_of`]).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{DeviceId, UserId};

/// How long after its use a refresh token may be presented again as a retry.
pub const RETRY_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(120);

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now used; the new one is stored in the same family.
    Rotated {
        user_id: UserId,
        device_id: Option<DeviceId>,
    },
    /// No such token.
    Unknown,
    Expired,
    Revoked,
    /// Already used: the family has been revoked.
    Reused,
}

/// Stores a token starting a new family.
pub async fn insert_new_family(
    conn: &mut PgConnection,
    user_id: UserId,
    device_id: Option<DeviceId>,
    hash: &[u8; 32],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    super::query(
        "INSERT INTO refresh_tokens (user_id, device_id, family_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(device_id)
    .bind(Uuid::new_v4())
    .bind(&hash[..])
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses the token hashed `old_hash` and stores `new_hash` in its family, atomically. The
/// row lock makes two concurrent uses of one token a replay for the second.
pub async fn rotate(
    pool: &PgPool,
    old_hash: &[u8; 32],
    new_hash: &[u8; 32],
    new_expires_at: DateTime<Utc>,
) -> Result<Rotation, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        user_id: UserId,
        device_id: Option<DeviceId>,
        family_id: Uuid,
        expires_at: DateTime<Utc>,
        used_at: Option<DateTime<Utc>>,
        revoked_at: Option<DateTime<Utc>>,
    }
    let mut tx = pool.begin().await?;
    let row: Option<Row> = super::query_as(
        "SELECT user_id, device_id, family_id, expires_at, used_at, revoked_at
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(&old_hash[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Rotation::Unknown);
    };
    if row.revoked_at.is_some() {
        return Ok(Rotation::Revoked);
    }
    if let Some(used_at) = row.used_at {
        let successor_unused: Option<bool> = super::query_scalar(
            "SELECT used_at IS NULL AND revoked_at IS NULL FROM refresh_tokens
             WHERE token_hash = $1 AND family_id = $2",
        )
        .bind(&new_hash[..])
        .bind(row.family_id)
        .fetch_optional(&mut *tx)
        .await?;
        if used_at > Utc::now() - RETRY_GRACE && successor_unused == Some(true) {
            // A retry: the successor is already stored, the answer is the same.
            return Ok(Rotation::Rotated {
                user_id: row.user_id,
                device_id: row.device_id,
            });
        }
        revoke_family_in(&mut tx, row.family_id).await?;
        tx.commit().await?;
        return Ok(Rotation::Reused);
    }
    if row.expires_at <= Utc::now() {
        return Ok(Rotation::Expired);
    }
    super::query("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(&old_hash[..])
        .execute(&mut *tx)
        .await?;
    super::query(
        "INSERT INTO refresh_tokens (user_id, device_id, family_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(row.user_id)
    .bind(row.device_id)
    .bind(row.family_id)
    .bind(&new_hash[..])
    .bind(new_expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        user_id: row.user_id,
        device_id: row.device_id,
    })
}

async fn revoke_family_in(conn: &mut PgConnection, family_id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(super::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .execute(conn)
    .await?
    .rows_affected())
}
