//! Part 2's plaintext-vs-encrypted table (issue 26): the same notes in an end-to-end
//! encrypted account, through the same `steel-sync` binary and backend in the same run:
//! first upload, no-change sync, one note changed, a second vault's first sync (unlocked
//! with the passphrase). The account is set up with `steel-sync encrypt` as a person would
//! (passphrase twice, the recovery code's last group typed back), and its passphrase slot
//! has the default Argon2id cost (64 MiB), outside the timed rows.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::e2e_rclone::{
    Cost, SHORT_RUNS, copy_tree, login, median_of, mib, one_change_median, ours_with_steps, ratio,
};

const PASSPHRASE: &str = "bench passphrase, long enough";

/// What the table needs from the plaintext run.
pub struct Setup<'a> {
    pub bin: &'a Path,
    pub api: &'a str,
    /// The vault to upload (its notes, not its sync state).
    pub source: &'a Path,
    pub work: &'a Path,
    pub run_id: &'a str,
    /// The plaintext rows of the same run: (scenario, ours).
    pub plaintext: Vec<(&'static str, Cost)>,
}

/// `steel-sync encrypt <vault>` as a person answers it.
fn encrypt(bin: &Path, vault: &Path) -> anyhow::Result<()> {
    let mut child = Command::new(bin)
        .args(["encrypt", vault.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting steel-sync encrypt")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    writeln!(stdin, "{PASSPHRASE}\n{PASSPHRASE}")?;
    let mut code = None;
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
    let mut line = String::new();
    while stdout.read_line(&mut line)? > 0 {
        let groups: Vec<&str> = line.trim().split('-').collect();
        if groups.len() == 7 && groups.iter().all(|g| g.len() == 5) {
            code = Some(groups[6].to_owned());
            break;
        }
        line.clear();
    }
    let last = code.context("steel-sync encrypt showed no recovery code")?;
    writeln!(stdin, "{last}")?;
    drop(stdin);
    // Read what it prints after the code to the end: a closed pipe would kill it mid-way.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "steel-sync encrypt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `steel-sync unlock <vault>` with the passphrase.
fn unlock(bin: &Path, vault: &Path) -> anyhow::Result<()> {
    let mut child = Command::new(bin)
        .args(["unlock", vault.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting steel-sync unlock")?;
    writeln!(child.stdin.take().context("stdin")?, "{PASSPHRASE}")?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "steel-sync unlock: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The section's table and its summary lines.
pub fn table(setup: &Setup<'_>) -> anyhow::Result<(String, String)> {
    let dir = |name: &str| -> anyhow::Result<std::path::PathBuf> {
        let p = setup.work.join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    };
    let (a, b) = (dir("enc-a")?, dir("enc-b")?);
    copy_tree(setup.source, &a)?;
    let sub = format!("bench-e2e-enc-{}", setup.run_id);
    login(setup.bin, setup.api, &a, &sub, "bench-enc-a")?;
    login(setup.bin, setup.api, &b, &sub, "bench-enc-b")?;
    encrypt(setup.bin, &a)?;
    let ours = |vault: &Path| ours_with_steps(setup.bin, vault, None).map(|(c, _)| c);
    let upload = ours(&a)?;
    let no_change = ours(&a)?;
    let empty_delta = median_of(SHORT_RUNS, |_| ours(&a))?;
    let one_change = one_change_median(setup.bin, &a, 100)?;
    unlock(setup.bin, &b)?;
    let second = ours(&b)?;
    let note = |root: &Path| std::fs::read(root.join("thoughts/note-00001.md")).ok();
    anyhow::ensure!(
        note(&b).is_some() && note(&a) == note(&b),
        "the encrypted second vault differs from the first"
    );
    let encrypted = [upload, no_change, empty_delta, one_change, second];
    anyhow::ensure!(
        setup.plaintext.len() == encrypted.len(),
        "the plaintext rows are not the encrypted ones"
    );

    let mut body = String::from(
        "| scenario | plaintext: time | encrypted: time | time ratio | plaintext: requests | encrypted: requests | plaintext: sent / received | encrypted: sent / received | bytes ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut summary =
        String::from("| scenario | encrypted | plaintext | ratio |\n|---|---:|---:|---:|\n");
    for ((name, p), e) in setup.plaintext.iter().zip(encrypted) {
        let (pb, eb) = ((p.sent + p.received) as f64, (e.sent + e.received) as f64);
        body.push_str(&format!(
            "| {name} | {:.2} s | {:.2} s | {} | {} | {} | {} / {} | {} / {} | {} |\n",
            p.secs,
            e.secs,
            ratio(e.secs, p.secs),
            p.requests,
            e.requests,
            mib(p.sent),
            mib(p.received),
            mib(e.sent),
            mib(e.received),
            ratio(eb, pb),
        ));
        summary.push_str(&format!(
            "| {name} | {:.2} s, {} req | {:.2} s, {} req | {} |\n",
            e.secs,
            e.requests,
            p.secs,
            p.requests,
            ratio(e.secs, p.secs)
        ));
    }
    Ok((body, summary))
}
