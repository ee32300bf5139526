//! The janitor's pure decisions, table-tested.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::{ContentHash, UserId};
use crate::storage::parse_blob_key;

/// What to do with one listed page of the bucket.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Blob keys older than the orphan age: deleted unless a confirm recorded them.
    pub candidates: Vec<(UserId, ContentHash)>,
    /// Keys older than the orphan age that name no blob: nothing of ours reads them.
    pub strays: Vec<String>,
    /// Where the next page starts.
    pub last_key: Option<String>,
}

/// Sorts a listed page: only objects last modified strictly before `now - orphan_age` may
/// go (a younger one may be an upload whose confirm is still to come).
pub fn sweep_page(
    objects: &[(String, DateTime<Utc>)],
    now: DateTime<Utc>,
    orphan_age: TimeDelta,
) -> Sweep {
    let cutoff = now - orphan_age;
    let mut sweep = Sweep {
        last_key: objects.last().map(|(k, _)| k.clone()),
        ..Sweep::default()
    };
    for (key, _) in objects.iter().filter(|(_, modified)| *modified < cutoff) {
        match parse_blob_key(key) {
            Some(blob) => sweep.candidates.push(blob),
            None => sweep.strays.push(key.clone()),
        }
    }
    sweep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_older_than_the_orphan_age_may_go() {
        let now = DateTime::from_timestamp(1_000_000, 0).expect("time");
        let age = TimeDelta::hours(24);
        let user = UserId(uuid::Uuid::nil());
        let hash = ContentHash::of(b"x");
        let blob = crate::storage::blob_key(user, &hash);
        let cases: &[(&str, &str, TimeDelta, bool, bool)] = &[
            // (what, key, age of the object, candidate, stray)
            (
                "a fresh upload stays",
                &blob,
                TimeDelta::hours(1),
                false,
                false,
            ),
            ("exactly at the age stays", &blob, age, false, false),
            (
                "a second older goes",
                &blob,
                age + TimeDelta::seconds(1),
                true,
                false,
            ),
            (
                "an old stray key goes",
                "junk/key",
                TimeDelta::hours(30),
                false,
                true,
            ),
            (
                "a young stray key stays",
                "junk/key",
                TimeDelta::hours(2),
                false,
                false,
            ),
        ];
        for (what, key, old, candidate, stray) in cases {
            let sweep = sweep_page(&[(key.to_string(), now - *old)], now, age);
            assert_eq!(!sweep.candidates.is_empty(), *candidate, "{what}");
            assert_eq!(!sweep.strays.is_empty(), *stray, "{what}");
            assert_eq!(sweep.last_key.as_deref(), Some(*key), "{what}");
        }
    }
}
