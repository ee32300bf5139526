//! When both sides edited a note: a three-way line merge against the version both last
//! agreed on, and, when the edits overlap, the name of the copy that keeps the local side.

use chrono::NaiveDate;

/// Merges two edits of one note. `Some` only when every change merges cleanly: edits to
/// different lines, or the same edit on both sides. Text that is not UTF-8 never merges.
pub fn three_way(base: &[u8], ours: &[u8], theirs: &[u8]) -> Option<Vec<u8>> {
    let (base, ours, theirs) = (
        std::str::from_utf8(base).ok()?,
        std::str::from_utf8(ours).ok()?,
        std::str::from_utf8(theirs).ok()?,
    );
    diffy::merge(base, ours, theirs)
        .ok()
        .map(String::into_bytes)
}

/// `thoughts/Idea.md` → `thoughts/Idea (conflict Alice's Mac 2026-11-24).md`; `n` > 1 adds a
/// counter for when that name is taken.
pub fn conflict_copy_name(path: &str, device: &str, date: NaiveDate, n: u32) -> String {
    let (dir, file) = match path.rsplit_once('/') {
        Some((d, f)) => (Some(d), f),
        None => (None, path),
    };
    let stem = file
        .len()
        .checked_sub(3)
        .and_then(|i| file.get(..i))
        .filter(|_| crate::scan::is_note(file))
        .unwrap_or(file);
    let device: String = device
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':') {
                '-'
            } else {
                c
            }
        })
        .collect();
    let counter = if n > 1 {
        format!(" {n}")
    } else {
        String::new()
    };
    let name = format!("{stem} (conflict {} {date}{counter}).md", device.trim());
    match dir {
        Some(d) => format!("{d}/{name}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_to_different_lines_merge() {
        let base = b"one\ntwo\nthree\nfour\n";
        let ours = b"ONE\ntwo\nthree\nfour\n";
        let theirs = b"one\ntwo\nthree\nFOUR\n";
        assert_eq!(
            three_way(base, ours, theirs).unwrap(),
            b"ONE\ntwo\nthree\nFOUR\n"
        );
    }

    #[test]
    fn the_same_edit_on_both_sides_merges() {
        let base = b"a\nb\n";
        let both = b"a\nB\n";
        assert_eq!(three_way(base, both, both).unwrap(), both);
    }

    #[test]
    fn overlapping_edits_do_not_merge() {
        assert_eq!(three_way(b"a\nb\n", b"a\nX\n", b"a\nY\n"), None);
        assert_eq!(three_way(b"a\n", b"\xff", b"a\n"), None);
    }

    #[test]
    fn copy_names() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(
            conflict_copy_name("thoughts/Idea.md", "Alice's Mac", d, 1),
            "thoughts/Idea (conflict Alice's Mac 2026-11-24).md"
        );
        assert_eq!(
            conflict_copy_name("a.md", "x/y", d, 2),
            "a (conflict x-y 2026-11-24 2).md"
        );
    }
}
