//! Per-account request budgets (fair use): every authenticated request but `DELETE
//! /account` spends from one of its account's three token buckets before any other work,
//! and is refused with 429 `rate_limited` and `Retry-After` when the bucket cannot pay.
//!
//! - [`Budget::Read`]: `state`, `history`, `deleted`, `account`, `GET /vault/keys`, `GET
//!   /vault/migration`, 1 a request.
//! - [`Budget::Write`]: `push`, `confirm`, `bulk` (both routes), `delete`, `restore`,
//!   `register`, `remove-device`, `logout`, `PUT /vault/keys`, the other `/vault/migration`
//!   routes, 1 a request.
//! - [`Budget::Download`]: `pull` and `packs`, 1 per file (or hash) the request names (the
//!   download URLs or packed blobs it may hand out), at least 1.
//!
//! A bucket holds at most `burst` tokens and gains `per_minute / 60` a second. It is one row
//! of `request_budgets`, taken from in the same statement that checks the bearer's user and
//! device (`db::budgets::admit`): no statement is added to a request, a refused request costs
//! exactly that one statement, and two function instances can never both spend the last
//! token (the row is locked for that one statement). The arithmetic is Postgres'; the
//! decisions around it (what a request costs, how long to wait) are the pure functions here.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

/// One of an account's three budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Budget {
    Read,
    Write,
    Download,
}

impl Budget {
    pub const ALL: [Budget; 3] = [Budget::Read, Budget::Write, Budget::Download];

    /// The `request_budgets.budget` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Budget::Read => "read",
            Budget::Write => "write",
            Budget::Download => "download",
        }
    }

    /// What the refusal calls it.
    const fn noun(self) -> &'static str {
        match self {
            Budget::Read => "reads",
            Budget::Write => "writes",
            Budget::Download => "download URLs",
        }
    }
}

/// A bucket's size and refill (`<BUDGET>_BUDGET_BURST`, `<BUDGET>_BUDGET_PER_MINUTE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Tokens a full bucket holds: what an idle account may spend at once.
    pub burst: u32,
    /// Tokens gained a minute, up to `burst`: the sustained rate.
    pub per_minute: u32,
}

impl Limit {
    pub fn per_second(self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }
}

/// The three budgets of every account (`Config::budgets`; `None` there: no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub read: Limit,
    pub write: Limit,
    pub download: Limit,
}

impl Budgets {
    /// The defaults, sized in the README ("Fair use").
    pub const DEFAULT: Budgets = Budgets {
        read: Limit {
            burst: 600,
            per_minute: 600,
        },
        write: Limit {
            burst: 300,
            per_minute: 120,
        },
        download: Limit {
            burst: 20_000,
            per_minute: 6_000,
        },
    };

    pub fn limit(&self, budget: Budget) -> Limit {
        match budget {
            Budget::Read => self.read,
            Budget::Write => self.write,
            Budget::Download => self.download,
        }
    }
}

/// What one request spends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Charge {
    pub budget: Budget,
    pub cost: u32,
}

impl Charge {
    pub const READ: Charge = Charge {
        budget: Budget::Read,
        cost: 1,
    };
    pub const WRITE: Charge = Charge {
        budget: Budget::Write,
        cost: 1,
    };

    /// A pull naming `files` files: one token per download URL it may hand out, at least one
    /// (an empty pull is still a request).
    pub fn downloads(files: usize) -> Charge {
        Charge {
            budget: Budget::Download,
            cost: u32::try_from(files).unwrap_or(u32::MAX).max(1),
        }
    }

    /// The cost the bucket is asked for: never more than it can hold (configuration keeps
    /// every burst at least the largest request's cost; this keeps a bad one from refusing
    /// a request for ever).
    pub fn cost_within(self, limit: Limit) -> u32 {
        self.cost.min(limit.burst).max(1)
    }
}

/// What the bucket answered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Taken {
    /// The tokens were spent: go on.
    Granted,
    /// The bucket holds `left` tokens, fewer than the cost; nothing was spent.
    Refused { left: f64 },
}

/// Whole seconds until a bucket holding `left` tokens, gaining `per_second`, holds `cost`:
/// rounded up (the same request sent then fits, unless the account spent meanwhile), at
/// least 1 (`Retry-After: 0` would invite an immediate retry).
pub fn retry_after(left: f64, cost: u32, per_second: f64) -> u64 {
    let missing = (f64::from(cost) - left.max(0.0)).max(0.0);
    if per_second <= 0.0 || !per_second.is_finite() {
        return u64::MAX;
    }
    let secs = (missing / per_second).ceil();
    if secs.is_finite() && secs < u64::MAX as f64 {
        (secs as u64).max(1)
    } else {
        u64::MAX
    }
}

/// The refusal's message.
pub fn refusal_message(budget: Budget, limit: Limit, retry_after: u64) -> String {
    format!(
        "this account is over its budget of {} ({} at once, {} a minute): try again in {} s",
        budget.noun(),
        limit.burst,
        limit.per_minute,
        retry_after
    )
}

/// Where the limiter reads the time: the system's, or one a test sets (the janitor's rules
/// take `now` from their caller for the same reason). Clones share a manual clock.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A clock that stands at `at` until moved.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(at) => *at.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock by `by` (a system clock cannot be moved: no effect).
    pub fn advance(&self, by: TimeDelta) {
        if let Clock::Manual(at) = self {
            let mut at = at.lock().unwrap_or_else(|e| e.into_inner());
            *at += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_table() {
        let cases: &[(f64, u32, f64, u64)] = &[
            // One token short at one a second: one second.
            (0.0, 1, 1.0, 1),
            // Part of a token there: still a whole second, rounded up.
            (0.5, 1, 1.0, 1),
            (0.0, 1, 0.5, 2),
            (0.0, 3, 2.0, 2),
            // Nearly there: never 0.
            (0.999, 1, 10.0, 1),
            (5.0, 1, 1.0, 1),
            // A pull of 1,000 files on an empty download bucket at 100 a second.
            (0.0, 1000, 100.0, 10),
            (400.0, 1000, 100.0, 6),
            // A negative remainder (cannot happen) counts as empty.
            (-3.0, 1, 1.0, 1),
            // No refill: never.
            (0.0, 1, 0.0, u64::MAX),
        ];
        for (left, cost, rate, want) in cases {
            assert_eq!(
                retry_after(*left, *cost, *rate),
                *want,
                "left {left}, cost {cost}, rate {rate}"
            );
        }
    }

    #[test]
    fn charges_table() {
        assert_eq!(Charge::downloads(0).cost, 1);
        assert_eq!(Charge::downloads(1).cost, 1);
        assert_eq!(Charge::downloads(1000).cost, 1000);
        assert_eq!(Charge::downloads(usize::MAX).cost, u32::MAX);
        let small = Limit {
            burst: 10,
            per_minute: 60,
        };
        assert_eq!(Charge::downloads(1000).cost_within(small), 10);
        assert_eq!(Charge::downloads(3).cost_within(small), 3);
        assert_eq!(Charge::READ.cost_within(small), 1);
        assert_eq!(Charge::WRITE.budget, Budget::Write);
    }

    #[test]
    fn default_budgets_cover_the_reference_clients_syncs() {
        let b = Budgets::DEFAULT;
        // A 10,000-note first sync: 11 state pages, 10 pulls naming 1,000 files each; a
        // first upload: 10 pushes and 10 confirms (BENCHMARKS.md part 2); twice over.
        assert!(b.read.burst >= 2 * 11);
        assert!(b.download.burst >= 2 * 10_000);
        assert!(b.write.burst >= 2 * 20);
        // A pull of the largest size always fits a full bucket.
        assert!(b.download.burst >= steel_protocol::wire::MAX_FILES_PER_REQUEST as u32);
        assert!((b.read.per_second() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_manual_clock_moves_for_every_clone() {
        let start = Utc::now();
        let clock = Clock::manual(start);
        let other = clock.clone();
        clock.advance(TimeDelta::seconds(5));
        assert_eq!(other.now(), start + TimeDelta::seconds(5));
        assert!(Clock::System.now() >= start);
    }
}
