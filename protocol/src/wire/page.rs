//! How much one page of a listing may carry. A `GET /vault/state` page ends at its `limit`
//! entries or at [`MAX_PAGE_BYTES`] of answer, whichever comes first (`has_more` says
//! there is more): an encrypted vault's entries with long names are several kilobytes each,
//! and 5,000 of them would pass Lambda's 6 MB cap on a function's answer; on a phone a lost
//! answer then costs at most one such page. The server and the simulation's model server
//! cut pages with the same [`entries_within`].

use serde::Serialize;

/// The most bytes of JSON one state page answers (the entries and the envelope around them).
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// Room kept for the envelope around the entries (`cursor`, `has_more`, `server_time`, ...).
const ENVELOPE_BYTES: usize = 1024;

/// How many of `entries`, from the first, fit in an answer of `budget` bytes of JSON: at
/// least one (a page always moves the cursor on), then every entry whose JSON (and its
/// separating comma) still fits.
pub fn entries_within<T: Serialize>(entries: &[T], budget: usize) -> usize {
    let mut room = budget.saturating_sub(ENVELOPE_BYTES);
    for (i, entry) in entries.iter().enumerate() {
        let size = serde_json::to_vec(entry).map_or(usize::MAX, |v| v.len()) + 1;
        if size > room {
            return i.max(1);
        }
        room -= size;
    }
    entries.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(n: usize) -> String {
        // A JSON string of n bytes: n - 2 characters between its quotes.
        "x".repeat(n - 2)
    }

    #[test]
    fn entries_are_cut_where_the_answer_would_pass_the_budget() {
        let budget = ENVELOPE_BYTES + 300;
        // (entry sizes in bytes of JSON, how many fit): each costs its size plus a comma.
        let cases: &[(&[usize], usize)] = &[
            (&[], 0),
            (&[100, 100], 2),
            (&[99, 99, 99], 3),
            (&[100, 100, 100], 2),
            (&[149, 149], 2),
            (&[149, 150], 1),
            (&[150, 150], 1),
            (&[2000], 1),
            (&[2000, 10], 1),
            (&[10, 2000, 10], 1),
        ];
        for (sizes, fit) in cases {
            let entries: Vec<String> = sizes.iter().map(|&n| sized(n)).collect();
            assert_eq!(entries_within(&entries, budget), *fit, "sizes {sizes:?}");
        }
    }

    #[test]
    fn a_page_that_fits_is_never_cut_and_a_big_one_stays_under_the_cap() {
        let small: Vec<String> = (0..5000).map(|_| sized(150)).collect();
        assert_eq!(entries_within(&small, MAX_PAGE_BYTES), 5000);
        let big: Vec<String> = (0..5000).map(|_| sized(3000)).collect();
        let n = entries_within(&big, MAX_PAGE_BYTES);
        assert!(n > 300 && n < 5000, "{n}");
        let body = serde_json::to_vec(&big[..n]).expect("json");
        assert!(
            body.len() + ENVELOPE_BYTES <= MAX_PAGE_BYTES,
            "{}",
            body.len()
        );
        let one_more = serde_json::to_vec(&big[..=n]).expect("json");
        assert!(one_more.len() + ENVELOPE_BYTES > MAX_PAGE_BYTES);
    }
}
