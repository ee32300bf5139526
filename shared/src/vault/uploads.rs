//! The allowance of unconfirmed uploads: how many bytes of upload URLs a user may hold that
//! no confirm has recorded yet. An object that no confirm records stays in the bucket until
//! the janitor's sweep finds it older than `ORPHAN_UPLOAD_HOURS`; without a cap on what push
//! hands out, each push could add a quota's worth of such bytes again. Pure: the database
//! layer loads the user's outstanding grants under a lock and writes what this decides.

/// What push may do with the upload URLs it is about to hand out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Hand them out (and record them as grants).
    Grant,
    /// This push alone asks for more than the whole allowance: no wait makes it fit, the
    /// caller must split it.
    PushTooLarge { asked: i64 },
    /// Too much is outstanding: `free` bytes of the oldest grants must expire (or be
    /// confirmed) first.
    Wait { free: i64 },
}

/// Decides a push asking for URLs of `asked` bytes (the distinct contents it uploads, each
/// size at most `MAX_FILE_BYTES`) while `outstanding` bytes of other grants are live, under
/// an allowance of `cap` bytes. Sizes are non-negative and checked at the boundary; the sums
/// saturate rather than wrap all the same.
pub fn admit(outstanding: i64, asked: &[i64], cap: i64) -> Admission {
    let asked = asked
        .iter()
        .fold(0i64, |sum, size| sum.saturating_add((*size).max(0)));
    if asked == 0 {
        // No bytes handed out: the allowance is not touched, however full it is.
        return Admission::Grant;
    }
    if asked > cap {
        return Admission::PushTooLarge { asked };
    }
    let total = outstanding.max(0).saturating_add(asked);
    if total > cap {
        Admission::Wait { free: total - cap }
    } else {
        Admission::Grant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(i64, &[i64], i64, Admission)] = &[
            // Nothing asked: nothing to decide.
            (0, &[], 10, Admission::Grant),
            (50, &[], 10, Admission::Grant),
            // Exactly the allowance fits.
            (0, &[4, 6], 10, Admission::Grant),
            (4, &[6], 10, Admission::Grant),
            // One byte over: wait for one byte of grants to go.
            (5, &[6], 10, Admission::Wait { free: 1 }),
            (10, &[1], 10, Admission::Wait { free: 1 }),
            // More than the allowance on its own: waiting cannot help.
            (0, &[11], 10, Admission::PushTooLarge { asked: 11 }),
            (0, &[6, 5], 10, Admission::PushTooLarge { asked: 11 }),
            // Empty files cost nothing.
            (10, &[0, 0], 10, Admission::Grant),
            // Sums that would overflow saturate instead.
            (
                0,
                &[i64::MAX, i64::MAX],
                i64::MAX - 1,
                Admission::PushTooLarge { asked: i64::MAX },
            ),
            (i64::MAX, &[1], i64::MAX - 1, Admission::Wait { free: 1 }),
        ];
        for (outstanding, asked, cap, want) in cases {
            assert_eq!(
                admit(*outstanding, asked, *cap),
                *want,
                "outstanding {outstanding}, asked {asked:?}, cap {cap}"
            );
        }
    }
}
