//! The rules of getting notes back: what a rewind does to one note, and when a run of
//! deletes is held as a likely accident. Pure, like [`super::rules`], whose quota and case
//! rules they share; the database layer loads, locks and writes what these decide.

pub use crate::config::MassDeletePolicy;
use crate::domain::{VaultPath, Version};
use crate::vault::rules::{Content, FileState, Room, live_size};

/// The numbers of a held mass delete, as the answer tells them.
pub use steel_protocol::wire::MassDelete;

/// Whether this delete is one an accident (an emptied folder, a wrong path) makes: held
/// unless confirmed. Counted across requests, so small batches cannot slip past.
pub fn is_held(numbers: &MassDelete, policy: MassDeletePolicy) -> bool {
    let deleted = u128::from(numbers.deleted_last_hour) + u128::from(numbers.requested);
    // The notes there were before the last hour's deletes.
    let before = u128::from(numbers.live) + u128::from(numbers.deleted_last_hour);
    numbers.requested > 0
        && deleted > u128::from(policy.min_files)
        && deleted * 1_000_000 > u128::from(policy.fraction_ppm) * before
}

/// What a rewind does to one note: its state at the moment rewound to is `then` (its
/// newest version then; `None`: the note did not exist yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RewindDecision {
    /// Already as it was then (or created later and kept): nothing to write.
    Unchanged,
    /// Created after the moment and kept (`remove_newer` not asked).
    KeptNewer,
    /// Write `version` with the content it had then.
    Restore {
        version: Version,
        size_delta: i64,
    },
    /// Write the tombstone `version` (deleted then, or created later and `remove_newer`).
    Delete {
        version: Version,
        size_delta: i64,
    },
    /// The bytes it had then are no longer stored.
    ContentGone,
    /// Restoring it would collide with another live path differing only by letter case.
    CaseConflict {
        existing: VaultPath,
    },
    QuotaExceeded,
}

/// A note's version at the moment a rewind goes back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PastState {
    pub content: Content,
    pub is_deleted: bool,
    /// Whether the bytes are still stored (a verified blob).
    pub stored: bool,
}

/// Decides the rewind of one note from its current row and its state then. Nothing is
/// destroyed: every change is a new version on top of the current one.
pub fn decide_rewind(
    current: &FileState,
    then: Option<&PastState>,
    twin: Option<&VaultPath>,
    remove_newer: bool,
    room: &mut Room,
) -> RewindDecision {
    let next = Version::stored(current.version).next();
    let live_size = live_size(Some(current));
    let tombstone = || RewindDecision::Delete {
        version: next,
        size_delta: -live_size,
    };
    match then {
        None if remove_newer && !current.is_deleted => tombstone(),
        None if current.is_deleted => RewindDecision::Unchanged,
        None => RewindDecision::KeptNewer,
        Some(past) if past.is_deleted => {
            if current.is_deleted {
                RewindDecision::Unchanged
            } else {
                tombstone()
            }
        }
        Some(past) => {
            let same = !current.is_deleted
                && current.content_hash == past.content.hash
                && current.size_bytes == past.content.size;
            if same {
                return RewindDecision::Unchanged;
            }
            if !past.stored {
                return RewindDecision::ContentGone;
            }
            if let Some(existing) = twin.filter(|t| **t != current.path) {
                return RewindDecision::CaseConflict {
                    existing: existing.clone(),
                };
            }
            let size_delta = past.content.size - live_size;
            if !room.take(size_delta) {
                return RewindDecision::QuotaExceeded;
            }
            RewindDecision::Restore {
                version: next,
                size_delta,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContentHash, DeviceId};

    const POLICY: MassDeletePolicy = MassDeletePolicy {
        min_files: 50,
        fraction_ppm: 250_000,
    };

    fn held(deleted_last_hour: u64, requested: u64, live: u64) -> bool {
        is_held(
            &MassDelete {
                deleted_last_hour,
                requested,
                live,
            },
            POLICY,
        )
    }

    #[test]
    fn a_mass_delete_needs_both_thresholds() {
        // (deleted in the last hour, requested now, live now, held?)
        let cases = [
            (0, 50, 100, false),  // 50 is not more than 50
            (0, 51, 100, true),   // 51 > 50 and 51 > 25 % of 100
            (0, 51, 1000, false), // 51 is only 5 % of 1,000
            (0, 51, 150, true),   // 51 of 150: 34 %
            (0, 51, 204, false),  // exactly 25 % of 204 is 51: not more
            (0, 52, 204, true),
            (40, 11, 100, true),  // across requests: 40 earlier + 11 now of 140
            (40, 10, 100, false), // 50 is not more than 50
            (200, 1, 0, true),    // the whole vault went in the last hour
            (200, 0, 0, false),   // nothing requested: nothing to hold
            (0, 10_000, 10_000, true),
        ];
        for (last_hour, requested, live, want) in cases {
            assert_eq!(
                held(last_hour, requested, live),
                want,
                "{last_hour} + {requested} of {live}"
            );
        }
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        assert!(held(u64::MAX, u64::MAX, u64::MAX));
        assert!(!held(0, 51, u64::MAX));
    }

    fn content(tag: &str, size: i64) -> Content {
        Content {
            hash: ContentHash::of(tag.as_bytes()),
            size,
        }
    }

    /// `note.md` at version 5: 10 bytes of "now", or its tombstone.
    fn current(deleted: bool) -> FileState {
        FileState {
            path: VaultPath::parse("note.md").expect("path"),
            version: 5,
            content_hash: ContentHash::of(b"now"),
            size_bytes: 10,
            is_deleted: deleted,
            deleted_at: deleted.then(chrono::Utc::now),
            updated_at: chrono::Utc::now(),
            updated_by: Some(DeviceId(uuid::Uuid::from_u128(1))),
            change_seq: 9,
        }
    }

    fn then(tag: &str, size: i64, is_deleted: bool, stored: bool) -> PastState {
        PastState {
            content: content(tag, size),
            is_deleted,
            stored,
        }
    }

    #[test]
    fn a_rewind_decides_each_note_as_documented() {
        use RewindDecision::*;
        let v6 = Version::new(6).expect("v");
        let twin = VaultPath::parse("NOTE.md").expect("path");
        // (current deleted?, state then, twin?, remove_newer, room, expected)
        let cases: Vec<(bool, Option<PastState>, bool, bool, i64, RewindDecision)> = vec![
            // Did not exist then: kept, or tombstoned when asked; a tombstone stays.
            (false, None, false, false, 0, KeptNewer),
            (
                false,
                None,
                false,
                true,
                0,
                Delete {
                    version: v6,
                    size_delta: -10,
                },
            ),
            (true, None, false, true, 0, Unchanged),
            (true, None, false, false, 0, Unchanged),
            // Deleted then.
            (
                false,
                Some(then("old", 3, true, true)),
                false,
                false,
                0,
                Delete {
                    version: v6,
                    size_delta: -10,
                },
            ),
            (
                true,
                Some(then("old", 3, true, true)),
                false,
                false,
                0,
                Unchanged,
            ),
            // Live then with the content it has now.
            (
                false,
                Some(then("now", 10, false, true)),
                false,
                false,
                0,
                Unchanged,
            ),
            // Live then with other content: restored (deleted now: revived).
            (
                false,
                Some(then("old", 3, false, true)),
                false,
                false,
                0,
                Restore {
                    version: v6,
                    size_delta: -7,
                },
            ),
            (
                true,
                Some(then("old", 3, false, true)),
                false,
                false,
                0,
                Restore {
                    version: v6,
                    size_delta: 3,
                },
            ),
            (
                true,
                Some(then("now", 10, false, true)),
                false,
                false,
                0,
                Restore {
                    version: v6,
                    size_delta: 10,
                },
            ),
            // ... unless its bytes are gone, a twin took its name, or it does not fit.
            (
                true,
                Some(then("old", 3, false, false)),
                false,
                false,
                0,
                ContentGone,
            ),
            (
                true,
                Some(then("old", 3, false, true)),
                true,
                false,
                0,
                CaseConflict {
                    existing: twin.clone(),
                },
            ),
            (
                true,
                Some(then("old", 3, false, true)),
                false,
                false,
                98,
                QuotaExceeded,
            ),
            // A shrink always fits.
            (
                false,
                Some(then("old", 3, false, true)),
                false,
                false,
                100,
                Restore {
                    version: v6,
                    size_delta: -7,
                },
            ),
        ];
        for (deleted, past, has_twin, remove_newer, used, want) in cases {
            let mut room = Room::new(used, 100);
            let got = decide_rewind(
                &current(deleted),
                past.as_ref(),
                has_twin.then_some(&twin),
                remove_newer,
                &mut room,
            );
            assert_eq!(
                got, want,
                "deleted {deleted}, then {past:?}, twin {has_twin}, remove_newer {remove_newer}, used {used}"
            );
        }
    }
}
