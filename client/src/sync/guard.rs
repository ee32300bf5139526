//! The mass-delete guard: when a sync would delete more of the vault on the server than a
//! person plausibly meant to (a folder emptied by an unmounted drive, a wrong path, a bug in
//! another app), the deletes are held back and the person asked. The server applies the same
//! rule across devices and requests (409 `mass_delete_held`); the client applies it first, so
//! nothing is even sent, and it also holds when the whole vault folder is empty.

/// What the person asked this sync to do with the notes missing here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingNotes {
    /// Delete them on the server unless that is a mass delete (then hold them back).
    #[default]
    Guarded,
    /// Delete them on the server however many they are (`--allow-mass-delete`).
    DeleteAll,
    /// Bring them back here from the server (`--restore-missing`).
    Restore,
}

/// The guard's thresholds: the server's defaults (`MASS_DELETE_MIN_FILES`,
/// `MASS_DELETE_FRACTION`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeletePolicy {
    pub missing: MissingNotes,
    /// More deletes than this...
    pub min_files: usize,
    /// ...and more than this share of the notes last synced, make a mass delete.
    pub fraction: f64,
    /// An earlier sync held deletes back and the person has not chosen yet.
    pub held_before: bool,
}

impl Default for DeletePolicy {
    fn default() -> Self {
        DeletePolicy {
            missing: MissingNotes::Guarded,
            min_files: 50,
            fraction: 0.25,
            held_before: false,
        }
    }
}

/// What becomes of the deletes a plan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send them.
    Delete,
    /// Send none; keep the notes known, report them, and exit with the held status.
    Hold,
    /// Pull each note back from the server instead.
    Restore,
}

/// The verdict on `deletes` local deletes, out of `known` notes last synced, when the
/// vault folder has `on_disk` notes now.
pub fn judge(policy: &DeletePolicy, deletes: usize, known: usize, on_disk: usize) -> Verdict {
    if deletes == 0 {
        return Verdict::Delete;
    }
    match policy.missing {
        MissingNotes::Restore => Verdict::Restore,
        MissingNotes::DeleteAll => Verdict::Delete,
        MissingNotes::Guarded => {
            // Strictly more than the share.
            let share = deletes as f64 > policy.fraction * known as f64;
            // An empty folder that knew notes: the drive or the path is gone, not the
            // notes. (One note deleted from a one-note vault is just that.)
            let emptied = on_disk == 0 && known > 0 && deletes > 1;
            if emptied || (deletes > policy.min_files && share) || policy.held_before {
                Verdict::Hold
            } else {
                Verdict::Delete
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(missing: MissingNotes) -> DeletePolicy {
        DeletePolicy {
            missing,
            ..DeletePolicy::default()
        }
    }

    #[test]
    fn a_hold_lasts_until_the_person_chooses() {
        let held = DeletePolicy {
            held_before: true,
            ..DeletePolicy::default()
        };
        // The emptied folder got a pulled note meanwhile: still held, however few.
        assert_eq!(judge(&held, 10, 10, 1), Verdict::Hold);
        assert_eq!(judge(&held, 1, 10, 9), Verdict::Hold);
        // Nothing left to delete: the hold is over.
        assert_eq!(judge(&held, 0, 10, 10), Verdict::Delete);
        // The person chose.
        for (missing, want) in [
            (MissingNotes::DeleteAll, Verdict::Delete),
            (MissingNotes::Restore, Verdict::Restore),
        ] {
            assert_eq!(judge(&DeletePolicy { missing, ..held }, 10, 10, 1), want);
        }
    }

    #[test]
    fn the_verdict_on_every_kind_of_delete() {
        use MissingNotes::{DeleteAll, Guarded, Restore as Bring};
        use Verdict::{Delete, Hold, Restore};
        // (asked, deletes, known, on disk) -> verdict
        let table = [
            (Guarded, 0, 1_000, 1_000, Delete),
            (Guarded, 1, 1_000, 999, Delete),
            // Many, but a small share of a big vault.
            (Guarded, 200, 1_000, 800, Delete),
            // A big share, but few notes.
            (Guarded, 50, 100, 50, Delete),
            (Guarded, 10, 12, 2, Delete),
            // Both: held.
            (Guarded, 51, 100, 49, Hold),
            (Guarded, 251, 1_000, 749, Hold),
            // Exactly the share is not more than it.
            (Guarded, 250, 1_000, 750, Delete),
            // The folder is empty: held, however few notes it had...
            (Guarded, 3, 3, 0, Hold),
            (Guarded, 2, 2, 0, Hold),
            // ...but the last note of a vault deleted is a delete.
            (Guarded, 1, 1, 0, Delete),
            (Guarded, 1, 5, 0, Delete),
            // Asked to delete anyway, or to bring the notes back.
            (DeleteAll, 3, 3, 0, Delete),
            (DeleteAll, 900, 1_000, 100, Delete),
            (Bring, 3, 3, 0, Restore),
            (Bring, 1, 1_000, 999, Restore),
            (Bring, 0, 1_000, 1_000, Delete),
        ];
        for (asked, deletes, known, on_disk, want) in table {
            assert_eq!(
                judge(&policy(asked), deletes, known, on_disk),
                want,
                "{asked:?}: {deletes} deletes of {known} known, {on_disk} on disk"
            );
        }
    }
}
