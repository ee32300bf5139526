//! `steel-sync encrypt | unlock | passphrase | recovery-code | lock` as a person runs them,
//! against the local stack: the recovery code shown once and confirmed, the key kept on the
//! device (here in the owner-only file: no keyring on a test machine), wrong secrets refused,
//! a changed passphrase and a replaced code that stop the old ones working.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use dev_token::DevToken;

use crate::common;

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_steel-sync"));
    c.args(args)
        .env("STEEL_API_URL", common::api_url())
        .env("STEEL_KEY_STORE", "file")
        // The floor every reader accepts: these tests run Argon2id a dozen times.
        .env("STEEL_KDF_MEMORY_KIB", "19456");
    c
}

/// Runs `args` with `input` as standard input.
fn run(args: &[&str], input: &str) -> Output {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run steel-sync");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a command that shows a new recovery code: sends `before`, reads the code from its
/// output, confirms it with its last group. Returns the code and the whole output.
fn run_showing_code(args: &[&str], before: &str) -> (String, String) {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run steel-sync");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(before.as_bytes()).unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let code = loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no code shown: {seen}"
        );
        seen.push_str(&line);
        let word = line.trim();
        if word.len() == 41 && word.matches('-').count() == 6 {
            break word.to_owned();
        }
    };
    // A wrong confirmation is asked again; then the right one.
    let last = code.rsplit('-').next().unwrap();
    writeln!(stdin, "ZZZZZ\n{last}").unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let all = format!("{seen}{rest}{err}");
    assert!(status.success(), "{all}");
    (code, all)
}

fn login(vault: &Path, sub: &str, device: &str) {
    let token = DevToken::apple(sub).mint().unwrap();
    let o = run(
        &[
            "login",
            vault.to_str().unwrap(),
            "--dev-token",
            &token,
            "--device-name",
            device,
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// The vault key a folder keeps (the key file's `vk`), if any.
fn kept_key(vault: &Path) -> Option<String> {
    let raw = std::fs::read(vault.join(".steel/vault-key")).ok()?;
    let kept: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    Some(kept["vk"].as_str().unwrap().to_owned())
}

#[test]
fn encrypt_unlock_change_the_passphrase_and_replace_the_recovery_code() {
    let user = common::unique_user("keys");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (pa, pb) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    login(a.path(), &user, "laptop");
    login(b.path(), &user, "desktop");

    // Two passphrases that differ, and one too short: nothing is set up.
    let o = run(&["encrypt", pa], "first passphrase\nfirst passphrasf\n");
    assert!(
        !o.status.success() && text(&o).contains("differ"),
        "{}",
        text(&o)
    );
    let o = run(&["encrypt", pa], "short\nshort\n");
    assert!(
        !o.status.success() && text(&o).contains("at least 10"),
        "{}",
        text(&o)
    );
    let o = run(&["unlock", pb], "first passphrase\n");
    assert!(
        text(&o).contains("not end-to-end encrypted"),
        "{}",
        text(&o)
    );

    let (code, said) = run_showing_code(&["encrypt", pa], "first passphrase\nfirst passphrase\n");
    assert!(said.contains("not the last group"), "{said}");
    assert!(
        said.contains("The account is end-to-end encrypted."),
        "{said}"
    );
    assert!(said.contains("warning: no system keyring answered") || said.contains("vault-key"));
    let key = kept_key(a.path()).expect("the key is kept on the device");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(a.path().join(".steel/vault-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    let o = run(&["encrypt", pa], "first passphrase\nfirst passphrase\n");
    assert!(
        text(&o).contains("already end-to-end encrypted"),
        "{}",
        text(&o)
    );

    // The second device: a wrong passphrase keeps nothing; the right one opens the same key.
    let o = run(&["unlock", pb], "first passphrasf\n");
    assert!(
        !o.status.success() && text(&o).contains("wrong passphrase"),
        "{}",
        text(&o)
    );
    assert_eq!(kept_key(b.path()), None);
    let o = run(&["unlock", pb], "first passphrase\n");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(kept_key(b.path()).as_deref(), Some(key.as_str()));
    let o = run(&["lock", pb], "");
    assert!(
        o.status.success() && kept_key(b.path()).is_none(),
        "{}",
        text(&o)
    );
    let o = run(
        &["unlock", pb, "--recovery-code"],
        &format!("{}\n", code.to_lowercase()),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(kept_key(b.path()).as_deref(), Some(key.as_str()));

    // A new passphrase: the old one stops working, the code still opens the vault.
    let o = run(
        &["passphrase", pa],
        "first passphrase\nsecond passphrase\nsecond passphrase\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["unlock", pb], "first passphrase\n");
    assert!(text(&o).contains("wrong passphrase"), "{}", text(&o));
    let o = run(&["unlock", pb], "second passphrase\n");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(kept_key(b.path()).as_deref(), Some(key.as_str()));

    // A new recovery code (opened with the old code): the old code stops working.
    let (new_code, _) = run_showing_code(
        &["recovery-code", pa, "--recovery-code"],
        &format!("{code}\n"),
    );
    assert_ne!(new_code, code);
    let o = run(&["unlock", pb, "--recovery-code"], &format!("{code}\n"));
    assert!(text(&o).contains("wrong recovery code"), "{}", text(&o));
    let o = run(&["unlock", pb, "--recovery-code"], &format!("{new_code}\n"));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(kept_key(b.path()).as_deref(), Some(key.as_str()));
    // A typo in a code is caught before any key is derived.
    let mut typo = new_code.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let o = run(
        &["unlock", pb, "--recovery-code"],
        &format!("{}\n", String::from_utf8(typo).unwrap()),
    );
    assert!(text(&o).contains("typo"), "{}", text(&o));
}

#[test]
fn a_vault_with_notes_is_encrypted_and_a_plaintext_device_unlocks_and_converges() {
    let user = common::unique_user("keys-notes");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (pa, pb) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    login(a.path(), &user, "laptop");
    login(b.path(), &user, "phone");
    std::fs::create_dir_all(a.path().join("thoughts")).unwrap();
    std::fs::write(a.path().join("thoughts/Idea.md"), "an idea\n").unwrap();
    std::fs::write(a.path().join("thoughts/Plan.md"), "a plan\n").unwrap();
    let o = run(&["sync", pa, "--quiet"], "");
    assert!(o.status.success(), "{}", text(&o));
    // History and a tombstone the migration leaves behind.
    std::fs::write(a.path().join("thoughts/Idea.md"), "an idea, edited\n").unwrap();
    std::fs::write(a.path().join("thoughts/Gone.md"), "soon deleted\n").unwrap();
    assert!(run(&["sync", pa, "--quiet"], "").status.success());
    std::fs::remove_file(a.path().join("thoughts/Gone.md")).unwrap();
    assert!(run(&["sync", pa, "--quiet"], "").status.success());
    let o = run(&["sync", pb, "--quiet"], "");
    assert!(o.status.success(), "{}", text(&o));
    // The phone edits a note before it learns the vault is encrypted.
    std::fs::write(
        b.path().join("thoughts/Plan.md"),
        "a plan, edited offline\n",
    )
    .unwrap();

    let (_code, said) = run_showing_code(&["encrypt", pa], "first passphrase\nfirst passphrase\n");
    assert!(said.contains("end-to-end encrypted: 2 notes"), "{said}");
    assert!(kept_key(a.path()).is_some());
    let o = run(&["sync", pa, "--quiet"], "");
    assert!(
        o.status.success(),
        "the laptop syncs the encrypted vault: {}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(a.path().join("thoughts/Idea.md")).unwrap(),
        "an idea, edited\n"
    );
    // A second run finds the work done.
    let o = run(&["encrypt", pa], "");
    assert!(
        text(&o).contains("already end-to-end encrypted"),
        "{}",
        text(&o)
    );

    // The phone, still plaintext, is told to unlock; its edit waits.
    let o = run(&["sync", pb, "--quiet"], "");
    assert!(
        !o.status.success() && text(&o).contains("unlock"),
        "{}",
        text(&o)
    );
    let o = run(&["unlock", pb], "first passphrase\n");
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["sync", pb, "--quiet"], "");
    assert!(
        o.status.success(),
        "the phone syncs after unlock: {}",
        text(&o)
    );
    let o = run(&["sync", pa, "--quiet"], "");
    assert!(o.status.success(), "{}", text(&o));
    for vault in [a.path(), b.path()] {
        assert_eq!(
            std::fs::read_to_string(vault.join("thoughts/Plan.md")).unwrap(),
            "a plan, edited offline\n",
            "the phone's offline edit reached both, encrypted"
        );
        assert_eq!(
            std::fs::read_to_string(vault.join("thoughts/Idea.md")).unwrap(),
            "an idea, edited\n"
        );
        assert!(!vault.join("thoughts/Gone.md").exists());
    }
}
