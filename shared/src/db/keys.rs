//! The key slots of an encrypted account (`vault_keys`, `key_slots`): read them with their
//! version, and replace them all only if the version is still the one the caller read.
//!
//! The version is the ETag's counter: 0 while the account is plaintext (no `vault_keys`
//! row), then bumped by every replacement. Two writers holding the same version cannot both
//! win: the first insert of the row conflicts on its primary key, and a later replacement
//! is an `UPDATE ... WHERE version = $n`, which the second writer re-evaluates after the
//! first commits and finds stale.

use sqlx::PgPool;

use crate::domain::UserId;
pub use crate::vault::keys::{First, Keys, Replaced, StoredSlot};

type Row = (
    i64,
    bool,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<Vec<u8>>,
);

/// The account's keys as committed now (one statement: one snapshot, so the version always
/// goes with its own slots).
pub async fn read(pool: &PgPool, user_id: UserId) -> Result<Keys, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let rows: Vec<Row> = super::query_as(
        "SELECT v.version, v.migrating, v.keyring, s.slot_id, s.kind, s.slot
         FROM vault_keys v LEFT JOIN key_slots s ON s.user_id = v.user_id
         WHERE v.user_id = $1
         ORDER BY s.position",
    )
    .bind(user_id)
    .fetch_all(&mut *one)
    .await?;
    one.done().await?;
    let mut keys = Keys {
        version: 0,
        slots: Vec::new(),
        keyring: None,
        migrating: false,
    };
    for (version, migrating, keyring, id, kind, slot) in rows {
        keys.version = version;
        keys.migrating = migrating;
        keys.keyring = keyring;
        if let (Some(id), Some(kind), Some(slot)) = (id, kind, slot) {
            let id = id
                .try_into()
                .map_err(|_| sqlx::Error::Decode("key_slots.slot_id is not 16 bytes".into()))?;
            keys.slots.push(StoredSlot { id, kind, slot });
        }
    }
    Ok(keys)
}

/// Replaces the account's slots and keyring if its version is still `expected`. The first
/// replacement (from version 0) marks the account encrypted for good ([`First::Encrypted`]),
/// and only for an account without notes: checked under the user's row lock, which every
/// write of notes takes too (and re-checks the account's mode under), so no plaintext note
/// can slip in. [`First::Migrating`] stores the slots of a migration instead, notes or not.
pub async fn replace(
    pool: &PgPool,
    user_id: UserId,
    expected: i64,
    slots: &[StoredSlot],
    keyring: Option<&[u8]>,
    first: First,
) -> Result<Replaced, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if expected == 0 && first == First::Encrypted {
        let has_notes: Option<bool> = super::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM file_state WHERE user_id = $1)
             FROM users WHERE id = $1 FOR UPDATE",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if has_notes == Some(true) {
            return Ok(Replaced::VaultNotEmpty);
        }
    }
    let version: Option<i64> = if expected == 0 {
        super::query_scalar(
            "INSERT INTO vault_keys (user_id, version, keyring, migrating) VALUES ($1, 1, $2, $3)
             ON CONFLICT (user_id) DO NOTHING
             RETURNING version",
        )
        .bind(user_id)
        .bind(keyring)
        .bind(first == First::Migrating)
        .fetch_optional(&mut *tx)
        .await?
    } else {
        super::query_scalar(
            "UPDATE vault_keys SET version = version + 1, keyring = $3, updated_at = now()
             WHERE user_id = $1 AND version = $2
             RETURNING version",
        )
        .bind(user_id)
        .bind(expected)
        .bind(keyring)
        .fetch_optional(&mut *tx)
        .await?
    };
    let Some(version) = version else {
        return Ok(Replaced::Stale);
    };
    super::query("DELETE FROM key_slots WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let ids: Vec<Vec<u8>> = slots.iter().map(|s| s.id.to_vec()).collect();
    let kinds: Vec<&str> = slots.iter().map(|s| s.kind.as_str()).collect();
    let bytes: Vec<&[u8]> = slots.iter().map(|s| s.slot.as_slice()).collect();
    super::query(
        "INSERT INTO key_slots (user_id, slot_id, position, kind, slot)
         SELECT $1, s.id, (s.n - 1)::SMALLINT, s.kind, s.slot
         FROM UNNEST($2::BYTEA[], $3::TEXT[], $4::BYTEA[]) WITH ORDINALITY AS s(id, kind, slot, n)",
    )
    .bind(user_id)
    .bind(&ids)
    .bind(&kinds)
    .bind(&bytes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Replaced::Done(version))
}
