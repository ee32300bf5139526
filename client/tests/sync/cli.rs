//! The `steel-sync` command as a user runs it, against the local stack: login, sync, status,
//! the summary line and the exit status.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use dev_token::DevToken;

fn steel_sync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_steel-sync"))
        .args(args)
        .env("STEEL_API_URL", common::api_url())
        .output()
        .expect("run steel-sync")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn login(vault: &Path, sub: &str, device: &str) {
    let token = DevToken::apple(sub).mint().unwrap();
    let o = steel_sync(&[
        "login",
        vault.to_str().unwrap(),
        "--dev-token",
        &token,
        "--device-name",
        device,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("({device})")), "{}", text(&o));
}

#[test]
fn login_sync_and_status_from_the_command_line() {
    let user = common::unique_user("cli");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    login(a.path(), &user, "laptop");
    login(b.path(), &user, "desktop");
    let auth = a.path().join(".steel/auth.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&auth).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "tokens are readable by their owner only"
        );
    }

    std::fs::create_dir_all(a.path().join("thoughts")).unwrap();
    std::fs::write(a.path().join("thoughts/Idea.md"), "an idea\n").unwrap();
    let o = steel_sync(&["status", a.path().to_str().unwrap()]);
    assert!(o.status.success());
    assert!(text(&o).contains("new: thoughts/Idea.md"), "{}", text(&o));

    let o = steel_sync(&["sync", a.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("sync done: pushed 1, pulled 0"),
        "{}",
        text(&o)
    );

    let o = steel_sync(&["status", a.path().to_str().unwrap()]);
    assert!(text(&o).contains("nothing to push"), "{}", text(&o));
    assert!(text(&o).contains("1 notes, 1 in sync"), "{}", text(&o));

    let o = steel_sync(&["sync", b.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("pulled 1"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(b.path().join("thoughts/Idea.md")).unwrap(),
        "an idea\n"
    );

    // Two names that differ only by case are one file on a Mac: the server refuses the
    // second, and the exit status says the sync was not complete.
    std::fs::write(b.path().join("thoughts/idea.md"), "another\n").unwrap();
    let o = steel_sync(&["sync", b.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("refused: thoughts/idea.md") && text(&o).contains("case_conflict"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_vault_that_is_not_signed_in_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let o = steel_sync(&["sync", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("steel-sync login"), "{}", text(&o));

    let o = steel_sync(&[
        "login",
        dir.path().to_str().unwrap(),
        "--dev-token",
        "not-a-jwt",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("401"), "{}", text(&o));
}

/// Writes `n` notes of distinct content under `thoughts/` of `vault`; their tree.
fn write_notes(vault: &Path, n: usize) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::create_dir_all(vault.join("thoughts")).unwrap();
    for i in 0..n {
        let body = format!("# Note {i}\n\nwritten on A, line {i}\n");
        std::fs::write(vault.join(format!("thoughts/Note {i:03}.md")), body).unwrap();
    }
    common::tree(vault)
}

/// Removes every note of `vault` (its `.steel` stays): a folder emptied by accident.
fn empty_folder(vault: &Path) {
    std::fs::remove_dir_all(vault.join("thoughts")).unwrap();
    assert!(common::tree(vault).is_empty());
}

/// Two folders A and B of a new user, signed in, with `n` notes written on A and synced to
/// both; the folders and their notes.
fn two_synced_folders(
    label: &str,
    n: usize,
) -> (
    tempfile::TempDir,
    tempfile::TempDir,
    std::collections::BTreeMap<String, Vec<u8>>,
) {
    let user = common::unique_user(label);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    login(a.path(), &user, "A");
    login(b.path(), &user, "B");
    let before = write_notes(a.path(), n);
    run_ok(&["sync", a.path().to_str().unwrap()]);
    run_ok(&["sync", b.path().to_str().unwrap()]);
    (a, b, before)
}

fn run_ok(args: &[&str]) -> String {
    let o = steel_sync(args);
    assert!(o.status.success(), "steel-sync {args:?}: {}", text(&o));
    text(&o)
}

#[test]
fn an_emptied_folder_is_held_back_and_restored_from_the_server() {
    let (a, b, before) = two_synced_folders("held", 60);
    let (va, vb) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    assert_eq!(common::tree(b.path()), before);

    // A's folder is emptied; A's sync holds the deletes back and says why and what to do.
    empty_folder(a.path());
    let o = steel_sync(&["sync", va]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("held back: 60 of the 60 notes"), "{said}");
    assert!(said.contains("steel-sync sync --restore-missing"), "{said}");
    assert!(
        said.contains("steel-sync sync --allow-mass-delete"),
        "{said}"
    );
    // Nothing was deleted: the server lists no deleted note, B keeps every note.
    let deleted: serde_json::Value =
        serde_json::from_str(&run_ok(&["deleted", va, "--json"])).unwrap();
    assert_eq!(deleted["files"], serde_json::json!([]));
    run_ok(&["sync", vb]);
    assert_eq!(common::tree(b.path()), before);
    // Held again on the next sync, not forgotten and not taken for a remote change.
    assert_eq!(steel_sync(&["sync", va]).status.code(), Some(3));

    // The person gets the notes back from the server.
    let said = run_ok(&["sync", va, "--restore-missing"]);
    assert!(said.contains("pulled 60"), "{said}");
    assert_eq!(common::tree(a.path()), before);
    assert!(run_ok(&["sync", va]).contains(&common::quiet_summary()));
    assert_eq!(common::tree(b.path()), before);
}

#[test]
fn a_confirmed_mass_delete_is_undone_by_a_rewind_on_both_folders() {
    let (a, b, before) = two_synced_folders("rewind", 60);
    let (va, vb) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let moment = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(std::time::Duration::from_millis(1100));

    // The person confirms: the notes go everywhere.
    empty_folder(a.path());
    let said = run_ok(&["sync", va, "--allow-mass-delete"]);
    assert!(said.contains("on the server 60"), "{said}");
    assert!(run_ok(&["sync", vb]).contains("here 60"));
    assert!(common::tree(b.path()).is_empty());
    let deleted: serde_json::Value =
        serde_json::from_str(&run_ok(&["deleted", vb, "--json"])).unwrap();
    assert_eq!(deleted["files"].as_array().unwrap().len(), 60);

    // A note's history shows its two versions, newest (the delete) first.
    let history: serde_json::Value =
        serde_json::from_str(&run_ok(&["history", vb, "thoughts/Note 007.md", "--json"])).unwrap();
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{history}");
    assert_eq!(versions[0]["is_deleted"], true);
    assert!(run_ok(&["history", vb, "thoughts/Note 007.md"]).contains("2 versions"));

    // Rewind to before the delete: every note back on both folders, byte for byte.
    let rewound: serde_json::Value =
        serde_json::from_str(&run_ok(&["rewind", vb, "--to", &moment, "--json"])).unwrap();
    assert_eq!(rewound["restored"], 60, "{rewound}");
    run_ok(&["sync", va]);
    run_ok(&["sync", vb]);
    assert_eq!(common::tree(a.path()), before);
    assert_eq!(common::tree(b.path()), before);

    // One note rolled back to an older version by `restore`, and synced everywhere.
    std::fs::write(a.path().join("thoughts/Note 001.md"), "rewritten\n").unwrap();
    run_ok(&["sync", va]);
    let said = run_ok(&["restore", vb, "thoughts/Note 001.md", "--version", "1"]);
    assert!(said.contains("with the content of v1"), "{said}");
    run_ok(&["sync", va]);
    run_ok(&["sync", vb]);
    assert_eq!(common::tree(a.path()), before);
    assert_eq!(common::tree(b.path()), before);
}

#[test]
fn a_small_emptied_folder_stays_held_after_a_note_is_pulled_into_it() {
    let (a, b, before) = two_synced_folders("small-held", 5);
    let (va, vb) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    empty_folder(a.path());
    assert_eq!(steel_sync(&["sync", va]).status.code(), Some(3));
    // Another device adds a note: A's next sync pulls it into the emptied folder, which is
    // then no longer empty, and five missing notes are few. Still held: nobody chose.
    std::fs::write(b.path().join("thoughts/New.md"), "new\n").unwrap();
    run_ok(&["sync", vb]);
    let o = steel_sync(&["sync", va]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("held back: 5 of"), "{}", text(&o));
    run_ok(&["sync", vb]);
    assert_eq!(
        common::tree(b.path()).len(),
        before.len() + 1,
        "B lost notes"
    );
    run_ok(&["sync", va, "--restore-missing"]);
    assert_eq!(common::tree(a.path()), common::tree(b.path()));
}
