//! Waiting out the server's 429 `rate_limited` (the account's request budgets, README "Fair
//! use"): how long, and how many times, before the refusal becomes the request's answer.

use std::time::Duration;

/// How many times one request refused with 429 `rate_limited` is sent again before the
/// refusal is the request's answer.
pub const RATE_LIMIT_RETRIES: u32 = 8;
/// The longest one wait for a rate-limited request, whatever `Retry-After` says.
pub const RATE_LIMIT_MAX_WAIT: Duration = Duration::from_secs(300);

/// How long to wait before sending a request again after its `attempt`th (from 1) refusal
/// as rate limited: what `Retry-After` asks, but at least a backoff that doubles from 1 s
/// with each refusal of the same request in a row (the account's other devices may be
/// spending the same budget), and at most [`RATE_LIMIT_MAX_WAIT`].
pub fn rate_limit_wait(retry_after: Option<u64>, attempt: u32) -> Duration {
    let backoff = 1u64 << attempt.clamp(1, 10).saturating_sub(1);
    let secs = retry_after.unwrap_or(0).max(backoff);
    Duration::from_secs(secs).min(RATE_LIMIT_MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_waits_table() {
        let s = Duration::from_secs;
        let cases: &[(Option<u64>, u32, Duration)] = &[
            // What the server asks, the first time.
            (Some(1), 1, s(1)),
            (Some(30), 1, s(30)),
            // Refused again and again: at least the doubling backoff.
            (Some(1), 2, s(2)),
            (Some(1), 4, s(8)),
            (Some(20), 4, s(20)),
            // No (or an unreadable) Retry-After: the backoff alone.
            (None, 1, s(1)),
            (None, 3, s(4)),
            // Capped, however long either asks.
            (Some(86_400), 1, RATE_LIMIT_MAX_WAIT),
            (None, 30, RATE_LIMIT_MAX_WAIT),
            (Some(u64::MAX), u32::MAX, RATE_LIMIT_MAX_WAIT),
        ];
        for (retry_after, attempt, want) in cases {
            assert_eq!(
                rate_limit_wait(*retry_after, *attempt),
                *want,
                "Retry-After {retry_after:?}, attempt {attempt}"
            );
        }
    }
}
