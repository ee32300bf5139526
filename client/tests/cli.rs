//! The `steel-sync` command as a user runs it, against the local stack: login, sync, status,
//! the summary line and the exit status.

mod common;

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
