//! Notes the server would refuse whatever their content, found before any request: a name
//! that is not a valid vault path, and case twins (two names that differ only by letter
//! case, one note on the case-insensitive file systems of iOS and macOS). The rules are the
//! protocol crate's, the very ones the server applies.

use std::collections::{BTreeMap, HashMap};

use steel_protocol::VaultPath;
use steel_protocol::domain::case_twins;

use super::report::Rejection;
use crate::scan::LocalFile;

/// Takes out of `local` every note the server would refuse by its name, and answers why,
/// naming both notes of a twin pair. A note `sync.db` knows (the server has it) is never
/// taken out: taken out, it would look deleted here and be deleted everywhere.
pub fn set_aside<R>(
    local: &mut BTreeMap<String, LocalFile>,
    known: &HashMap<String, R>,
) -> Vec<Rejection> {
    let mut out = Vec::new();
    let mut valid = Vec::new();
    for path in local.keys() {
        match VaultPath::parse(path) {
            Ok(p) => valid.push(p),
            Err(e) if !known.contains_key(path) => out.push(Rejection {
                path: path.clone(),
                code: e.code.as_str().to_owned(),
                message: e.message,
            }),
            Err(_) => {}
        }
    }
    // Known notes first: of a pair, the one the server already has is the one kept.
    valid.sort_by_key(|p| (!known.contains_key(p.as_str()), p.clone()));
    for (kept, twin) in case_twins(&valid) {
        if known.contains_key(twin.as_str()) {
            continue;
        }
        out.push(Rejection {
            path: twin.to_string(),
            code: "case_conflict".to_owned(),
            message: format!(
                "{kept} already names this note (they differ only by letter case, one file on \
                 iPhone and Mac): rename one of them; this one is not synced meanwhile"
            ),
        });
    }
    for r in &out {
        local.remove(&r.path);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str) -> LocalFile {
        LocalFile {
            rel: rel.to_owned(),
            hash: String::new(),
            size: 0,
        }
    }

    fn run(paths: &[&str], known: &[&str]) -> (Vec<String>, Vec<(String, String)>) {
        let mut local: BTreeMap<String, LocalFile> =
            paths.iter().map(|p| ((*p).to_owned(), file(p))).collect();
        let known: HashMap<String, ()> = known.iter().map(|p| ((*p).to_owned(), ())).collect();
        let out = set_aside(&mut local, &known);
        (
            local.into_keys().collect(),
            out.into_iter().map(|r| (r.path, r.code)).collect(),
        )
    }

    /// (on disk, known to sync.db, kept, set aside with code)
    type Case = (
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    );

    #[test]
    fn twins_and_bad_names_are_set_aside_before_any_request() {
        let cases: &[Case] = &[
            // (on disk, known to sync.db, kept, set aside with code)
            (&["a.md", "b.md"], &[], &["a.md", "b.md"], &[]),
            (
                &["Notes/Todo.md", "notes/TODO.md"],
                &[],
                &["Notes/Todo.md"],
                &[("notes/TODO.md", "case_conflict")],
            ),
            // The note the server has stays, whatever its case.
            (
                &["Notes/Todo.md", "notes/todo.md"],
                &["notes/todo.md"],
                &["notes/todo.md"],
                &[("Notes/Todo.md", "case_conflict")],
            ),
            // Accented capitals fold too.
            (
                &["ÉTÉ.md", "été.md"],
                &[],
                &["ÉTÉ.md"],
                &[("été.md", "case_conflict")],
            ),
            // A segment the server refuses.
            (
                &["a.md", "x/\u{7}bell.md"],
                &[],
                &["a.md"],
                &[("x/\u{7}bell.md", "invalid_path")],
            ),
        ];
        for (disk, known, kept, aside) in cases {
            let (k, a) = run(disk, known);
            assert_eq!(k, kept.to_vec(), "{disk:?}");
            let a: Vec<(&str, &str)> = a.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
            assert_eq!(a, aside.to_vec(), "{disk:?}");
        }
    }

    #[test]
    fn the_message_names_both_notes() {
        let mut local: BTreeMap<String, LocalFile> = ["Notes/Todo.md", "notes/TODO.md"]
            .iter()
            .map(|p| ((*p).to_owned(), file(p)))
            .collect();
        let out = set_aside(&mut local, &HashMap::<String, ()>::new());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, "notes/TODO.md");
        assert!(
            out[0].message.contains("Notes/Todo.md"),
            "{}",
            out[0].message
        );
    }
}
