//! Account-level operations: the account summary, signing out, removing a device, and
//! deleting the account.

use sqlx::PgPool;

use crate::domain::{DeviceId, UserId};

/// Files and bytes of a vault, from counters the writes keep: O(1) whatever its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultStats {
    /// Live notes.
    pub file_count: i64,
    /// Bytes of the live notes (what the quota counts).
    pub vault_size: i64,
    /// Bytes of every retained blob, older versions and deleted notes included.
    pub stored_bytes: i64,
}

pub async fn vault_stats(
    pool: &PgPool,
    user_id: UserId,
) -> Result<Option<VaultStats>, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let row: Option<(i64, i64, i64)> = super::query_as(
        "SELECT u.file_count, u.vault_size, COALESCE(b.stored_bytes, 0)
         FROM users u LEFT JOIN blob_usage b ON b.user_id = u.id
         WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *one)
    .await?;
    one.done().await?;
    Ok(
        row.map(|(file_count, vault_size, stored_bytes)| VaultStats {
            file_count,
            vault_size,
            stored_bytes,
        }),
    )
}

/// Revokes the live refresh tokens of `user_id` that match: those bound to `device_id`
/// (`Some`), or every one (`None`). Returns how many.
pub async fn revoke_tokens(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
) -> Result<u64, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let revoked = super::query(
        "UPDATE refresh_tokens SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::UUID IS NULL OR device_id = $2)",
    )
    .bind(user_id)
    .bind(device_id)
    .execute(&mut *one)
    .await?
    .rows_affected();
    one.done().await?;
    Ok(revoked)
}

/// Revokes the family of the refresh token hashed `hash`, if it is one of `user_id`'s.
/// Returns whether such a token exists.
pub async fn revoke_family_of(
    pool: &PgPool,
    user_id: UserId,
    hash: &[u8; 32],
) -> Result<bool, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let found: Option<uuid::Uuid> = super::query_scalar(
        "WITH family AS (
             SELECT family_id FROM refresh_tokens WHERE token_hash = $2 AND user_id = $1)
         UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, now())
         WHERE family_id = (SELECT family_id FROM family)
         RETURNING family_id",
    )
    .bind(user_id)
    .bind(&hash[..])
    .fetch_optional(&mut *one)
    .await?;
    one.done().await?;
    Ok(found.is_some())
}

/// Signs a device out: revokes its refresh tokens, clears its push token, marks it removed,
/// in one transaction. `false` when it is not an active device of `user_id` (another
/// user's device looks exactly like an unknown one).
pub async fn remove_device(
    pool: &PgPool,
    user_id: UserId,
    device_id: DeviceId,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let removed = super::query(
        "UPDATE devices SET removed_at = now(), push_token = NULL, push_token_updated_at = NULL
         WHERE id = $1 AND user_id = $2 AND removed_at IS NULL",
    )
    .bind(device_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if removed {
        super::query(
            "UPDATE refresh_tokens SET revoked_at = now()
             WHERE device_id = $1 AND revoked_at IS NULL",
        )
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// Deletes every row of the user (devices, tokens, file state, history, blobs) in one
/// transaction and records the pending purge of their S3 objects. `false` if no such user.
pub async fn delete_account(pool: &PgPool, user_id: UserId) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::query(
        "INSERT INTO account_purges (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET purged_at = NULL, reswept_at = NULL",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    // file_versions references file_state; both go with the user through ON DELETE CASCADE.
    let deleted = super::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if deleted {
        tx.commit().await?;
    }
    Ok(deleted)
}

/// Records progress of a purge; `done` marks it finished.
pub async fn record_purge(
    pool: &PgPool,
    user_id: UserId,
    objects_deleted: u64,
    done: bool,
) -> Result<(), sqlx::Error> {
    let mut one = super::single(pool).await?;
    super::query(
        "UPDATE account_purges
         SET objects_deleted = objects_deleted + $2,
             purged_at = CASE WHEN $3 THEN now() ELSE purged_at END
         WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(objects_deleted as i64)
    .bind(done)
    .execute(&mut *one)
    .await?;
    one.done().await?;
    Ok(())
}
