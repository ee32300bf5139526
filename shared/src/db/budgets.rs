//! Request budgets: one token bucket per account and budget (`request_budgets`, see
//! [`crate::budget`]). [`admit`] is the bearer check and the spend in one statement.
//!
//! The bucket row is its own, never the user's: a `state` never waits behind a `confirm`
//! holding `users`. Every user gets its three rows when it is created (a trigger; the
//! migration filled them in for existing users), full (`tokens = 'Infinity'`, which the
//! refill clamps to the burst), so the statement only ever updates: the insert branch, whose
//! foreign-key check would take a share lock on the user's row, is there for a row that is
//! missing all the same.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::budget::{Budget, Limit, Taken};
use crate::domain::{DeviceId, UserId};

/// The bucket after refilling from `refilled_at` to `$6` (now), at most the burst (`$3`).
/// Time never runs backwards for a bucket: an instance whose clock is behind the last
/// spend's refills nothing.
const REFILLED: &str = "LEAST($3, b.tokens + $4 * GREATEST(0,
    EXTRACT(EPOCH FROM ($6 - b.refilled_at))::FLOAT8))";

/// What [`admit`] found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Admitted {
    /// The user is gone, or the token's device was removed: 401.
    Inactive,
    /// The caller is active and the bucket answered.
    Active(Taken),
}

/// Whether `user_id` (and `device_id`, for a device-bound token) is still signed in, and if
/// so, spends `cost` tokens of its `budget` bucket (sized `limit`) at `now` when it holds
/// them. One statement: the bucket's row is locked only while it runs, so two instances
/// spending from one account at once are serialised, exactly. A refused request writes the
/// refilled bucket back unchanged in value (and nothing else).
pub async fn admit(
    pool: &PgPool,
    user_id: UserId,
    device_id: Option<DeviceId>,
    budget: Budget,
    limit: Limit,
    cost: u32,
    now: DateTime<Utc>,
) -> Result<Admitted, sqlx::Error> {
    let mut one = super::single(pool).await?;
    let row: (bool, Option<bool>, Option<f64>) = super::query_as(&format!(
        "WITH caller AS (
             SELECT u.id FROM users u
             WHERE u.id = $1
               AND ($7::UUID IS NULL
                    OR EXISTS (SELECT 1 FROM devices d
                               WHERE d.id = $7 AND d.user_id = u.id AND d.removed_at IS NULL))
         ), taken AS (
             INSERT INTO request_budgets AS b (user_id, budget, tokens, refilled_at, granted)
             SELECT id, $2, $3 - $5, $6, TRUE FROM caller
             ON CONFLICT (user_id, budget) DO UPDATE SET
                 tokens = CASE WHEN {REFILLED} >= $5 THEN {REFILLED} - $5 ELSE {REFILLED} END,
                 refilled_at = GREATEST(b.refilled_at, $6),
                 granted = {REFILLED} >= $5
             RETURNING b.granted, b.tokens
         )
         SELECT EXISTS (SELECT 1 FROM caller), t.granted, t.tokens
         FROM (SELECT 1) AS one LEFT JOIN taken t ON TRUE"
    ))
    .bind(user_id)
    .bind(budget.as_str())
    .bind(f64::from(limit.burst))
    .bind(limit.per_second())
    .bind(f64::from(cost))
    .bind(now)
    .bind(device_id)
    .fetch_one(&mut *one)
    .await?;
    one.done().await?;
    Ok(match row {
        (false, _, _) => Admitted::Inactive,
        (true, Some(true), _) => Admitted::Active(Taken::Granted),
        (true, _, left) => Admitted::Active(Taken::Refused {
            left: left.unwrap_or(0.0),
        }),
    })
}
