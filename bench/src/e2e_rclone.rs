//! Part 2: end to end against a peer. The reference client (`steel-sync`, through the whole
//! local stack: `cargo lambda watch`, Postgres, s3s-fs) and `rclone` (syncing the same
//! folder to the same s3s-fs) side by side in one run: the initial upload of a vault of
//! realistic notes, a sync with no change, a sync with one note changed, and that one-note
//! change arriving on a second vault. Wall time, HTTP requests and body bytes of each, and
//! the ratio ours/rclone.
//!
//! Needs `STEEL_API_URL` (scripts/bench.sh runs this part under `scripts/with-dev-stack.sh`),
//! the `steel-sync` binary and `rclone` on the PATH (scripts/bench.sh installs the Debian
//! package when missing).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use dev_token::DevToken;

use crate::client_sync;
pub(crate) use crate::rclone::Rclone;
use crate::report::Section;

/// What one sync cost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cost {
    pub(crate) secs: f64,
    pub(crate) requests: u64,
    pub(crate) sent: u64,
    pub(crate) received: u64,
}

const FOLDERS: [&str; 4] = ["sources", "thoughts", "questions", "syntheses"];

/// A deterministic pseudo-random generator (SplitMix64): the same vault on every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "note",
    "idea",
    "source",
    "question",
    "because",
    "the",
    "of",
    "and",
    "memory",
    "sync",
    "device",
    "paper",
    "argument",
    "evidence",
    "draft",
    "link",
    "thought",
    "synthesis",
    "a",
    "claim",
    "method",
    "result",
    "reading",
    "quote",
    "why",
    "how",
    "steel",
    "vault",
];

/// Notes of realistic sizes: most a few KB, some tens of KB, a few hundreds.
pub(crate) fn write_vault(root: &Path, notes: usize) -> anyhow::Result<u64> {
    let mut rng = Mix(42);
    let mut total = 0u64;
    for i in 0..notes {
        let size = match rng.below(100) {
            0 => 64 * 1024 + rng.below(256 * 1024),
            1..=9 => 8 * 1024 + rng.below(56 * 1024),
            _ => 500 + rng.below(7 * 1024),
        } as usize;
        let mut text = format!("# Note {i}\n\n");
        while text.len() < size {
            let words = 8 + rng.below(12);
            for w in 0..words {
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
            }
            text.push_str(if rng.below(5) == 0 { "\n\n" } else { ".\n" });
        }
        let folder = FOLDERS[i % FOLDERS.len()];
        let path = root.join(folder).join(format!("note-{i:05}.md"));
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(&path, &text)?;
        total += text.len() as u64;
    }
    Ok(total)
}

/// How many times the encrypted table's short rows (the empty-delta sync, one note changed)
/// run in each mode: a single run of a 0.1 s sync moves by tens of milliseconds between runs.
pub(crate) const SHORT_RUNS: usize = 5;

/// The run of `f` (called with 0, 1, ...) with the median time: its requests and bytes too.
pub(crate) fn median_of(
    runs: usize,
    mut f: impl FnMut(usize) -> anyhow::Result<Cost>,
) -> anyhow::Result<Cost> {
    let mut costs = (0..runs)
        .map(&mut f)
        .collect::<anyhow::Result<Vec<Cost>>>()?;
    costs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    costs.get(runs / 2).copied().context("no runs")
}

/// One note edited (`round`, from `from`) and synced, [`SHORT_RUNS`] times: the median.
pub(crate) fn one_change_median(bin: &Path, vault: &Path, from: usize) -> anyhow::Result<Cost> {
    median_of(SHORT_RUNS, |i| {
        edit_one(vault, from + i)?;
        ours(bin, vault)
    })
}

pub(crate) fn edit_one(root: &Path, round: usize) -> anyhow::Result<()> {
    let path = root.join("thoughts/note-00001.md");
    let mut text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.push_str(&format!("\nEdited in round {round}.\n"));
    std::fs::write(&path, text)?;
    Ok(())
}

pub(crate) fn steel_sync(bin: &Path, args: &[&str]) -> anyhow::Result<String> {
    steel_sync_via(bin, args, None)
}

/// [`steel_sync`], its requests through `proxy` (`STEEL_SYNC_PROXY`) when given.
fn steel_sync_via(bin: &Path, args: &[&str], proxy: Option<&str>) -> anyhow::Result<String> {
    let mut command = Command::new(bin);
    if let Some(proxy) = proxy {
        command.env("STEEL_SYNC_PROXY", proxy);
    }
    let out = command
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "steel-sync {args:?} failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(text)
}

/// One `steel-sync sync --stats`: wall time of the whole process, requests and bytes as the
/// client counted them.
fn ours(bin: &Path, vault: &Path) -> anyhow::Result<Cost> {
    ours_with_steps(bin, vault, None).map(|(cost, _)| cost)
}

/// [`ours`], and the steps the client reports after the `;` of its stats line, if any.
pub(crate) fn ours_with_steps(
    bin: &Path,
    vault: &Path,
    proxy: Option<&str>,
) -> anyhow::Result<(Cost, Option<String>)> {
    let started = Instant::now();
    let out = steel_sync_via(
        bin,
        &["sync", vault.to_str().unwrap(), "--quiet", "--stats"],
        proxy,
    )?;
    let secs = started.elapsed().as_secs_f64();
    let line = out
        .lines()
        .find(|l| l.starts_with("stats: "))
        .with_context(|| format!("no stats line in {out}"))?;
    // stats: 1.234 s, 12 requests (api 4, s3 8), 100 bytes sent, 200 bytes received
    let words: Vec<&str> = line.split_whitespace().collect();
    let before = |word: &str, next: Option<&str>| -> Option<u64> {
        (1..words.len())
            .find(|&i| {
                words[i] == word
                    && next.is_none_or(|n| words.get(i + 1).is_some_and(|w| w.starts_with(n)))
            })
            .and_then(|i| words[i - 1].parse().ok())
    };
    match (
        before("requests", None),
        before("bytes", Some("sent")),
        before("bytes", Some("received")),
    ) {
        (Some(requests), Some(sent), Some(received)) => Ok((
            Cost {
                secs,
                requests,
                sent,
                received,
            },
            line.split_once("; ").map(|(_, steps)| steps.to_owned()),
        )),
        _ => bail!("unexpected stats line: {line}"),
    }
}

pub(crate) fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for folder in FOLDERS {
        let (src, dst) = (from.join(folder), to.join(folder));
        std::fs::create_dir_all(&dst)?;
        for entry in std::fs::read_dir(&src)? {
            let entry = entry?;
            std::fs::copy(entry.path(), dst.join(entry.file_name()))?;
        }
    }
    Ok(())
}

pub(crate) fn login(
    bin: &Path,
    api: &str,
    vault: &Path,
    sub: &str,
    device: &str,
) -> anyhow::Result<()> {
    let token = DevToken::apple(sub)
        .mint()
        .map_err(|e| anyhow::anyhow!(e))?;
    steel_sync(
        bin,
        &[
            "login",
            vault.to_str().unwrap(),
            "--api",
            api,
            "--dev-token",
            &token,
            "--device-name",
            device,
        ],
    )?;
    Ok(())
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set"))
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

/// Runs part 2; `bin_dir` holds `steel-sync`.
pub async fn run(bin_dir: &Path, quick: bool) -> anyhow::Result<(Section, bool)> {
    let api = env("STEEL_API_URL")?;
    let bin = bin_dir.join("steel-sync");
    if !bin.exists() {
        bail!("{} is missing (scripts/bench.sh builds it)", bin.display());
    }
    let rclone_version = Command::new("rclone")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .context("rclone is not installed (scripts/bench.sh installs the Debian package)")?;
    // rclone reads its remote from the environment: the same s3s-fs and keys.
    let endpoint = env("AWS_ENDPOINT_URL_S3")?;
    let run_id = format!("{}", chrono::Utc::now().timestamp_millis());
    let rclone_env = vec![
        ("RCLONE_CONFIG_BENCH_TYPE", "s3".to_owned()),
        ("RCLONE_CONFIG_BENCH_PROVIDER", "Other".to_owned()),
        (
            "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID",
            env("AWS_ACCESS_KEY_ID")?,
        ),
        (
            "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY",
            env("AWS_SECRET_ACCESS_KEY")?,
        ),
        ("RCLONE_CONFIG_BENCH_ENDPOINT", endpoint),
        ("RCLONE_CONFIG_BENCH_REGION", env("AWS_REGION")?),
        ("RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE", "true".to_owned()),
    ];
    let notes = if quick { 300 } else { 10_000 };
    let work = tempfile::tempdir()?;
    let (ours_a, ours_b) = (work.path().join("ours-a"), work.path().join("ours-b"));
    let (theirs_a, theirs_b) = (work.path().join("rclone-a"), work.path().join("rclone-b"));
    let bytes = write_vault(&ours_a, notes)?;
    copy_tree(&ours_a, &theirs_a)?;
    std::fs::create_dir_all(&ours_b)?;
    std::fs::create_dir_all(&theirs_b)?;
    let mut rclone = Rclone {
        env: rclone_env,
        // A bucket of its own, synced at its root: s3s-fs stores keys as files, and answers
        // rclone's opening HeadObject of a prefix (a directory on its disk) with a 500, which
        // rclone retries with back-off for minutes.
        remote: format!("bench:rclone-bench-{run_id}"),
        dump_dir: work.path().to_path_buf(),
        runs: 0,
    };

    let sub = format!("bench-e2e-{run_id}");
    login(&bin, &api, &ours_a, &sub, "bench-a")?;
    login(&bin, &api, &ours_b, &sub, "bench-b")?;

    let mut rows: Vec<(&str, Cost, Cost)> = Vec::new();
    rows.push((
        "initial upload",
        ours(&bin, &ours_a)?,
        rclone.upload(&theirs_a)?,
    ));
    let (no_change, first_steps) = ours_with_steps(&bin, &ours_a, None)?;
    rows.push(("no-change sync", no_change, rclone.upload(&theirs_a)?));
    // For the encrypted table: no-change syncs whose delta is empty (the median).
    let empty_delta = median_of(SHORT_RUNS, |_| ours(&bin, &ours_a))?;
    // The first no-change sync above reads back this device's own 10,000 new versions (its
    // cursor predates its pushes); these find an empty delta.
    let (client_table, client_summary) =
        client_sync::no_change(&bin, &ours_a, &api, &sub, if quick { 3 } else { 7 })?;
    edit_one(&ours_a, 1)?;
    edit_one(&theirs_a, 1)?;
    rows.push((
        "one note changed (upload)",
        ours(&bin, &ours_a)?,
        rclone.upload(&theirs_a)?,
    ));
    // For the encrypted table: the median of one-note changes (their notes reach the
    // second vault in its first sync, with the rest).
    let one_change = one_change_median(&bin, &ours_a, 100)?;
    rows.push((
        "second vault, first sync (download all)",
        ours(&bin, &ours_b)?,
        rclone.download(&theirs_b)?,
    ));
    edit_one(&ours_a, 2)?;
    edit_one(&theirs_a, 2)?;
    ours(&bin, &ours_a)?;
    rclone.upload(&theirs_a)?;
    rows.push((
        "one note changed (download on the second vault)",
        ours(&bin, &ours_b)?,
        rclone.download(&theirs_b)?,
    ));

    // The same first upload and second vault's first sync, every request through a proxy
    // that delays each direction by 25 ms (a 50 ms round trip, as on a phone).
    rows.extend(crate::e2e_rtt::rows(&crate::e2e_rtt::Setup {
        bin: &bin,
        api: &api,
        source: &ours_a,
        work: work.path(),
        rclone_env: &rclone.env,
        run_id: &run_id,
    })?);

    // The same notes in an end-to-end encrypted account (issue 26), against these rows.
    let plaintext = vec![
        ("initial upload", rows[0].1),
        ("no-change sync", rows[1].1),
        ("no-change sync, empty delta", empty_delta),
        ("one note changed (upload)", one_change),
        ("second vault, first sync (download all)", rows[3].1),
    ];
    let (encrypted_table, encrypted_summary) =
        crate::e2e_encrypted::table(&crate::e2e_encrypted::Setup {
            bin: &bin,
            api: &api,
            source: &ours_a,
            work: work.path(),
            run_id: &run_id,
            plaintext,
        })?;

    // Both second vaults must now hold the first's notes.
    let same = |a: &Path, b: &Path| -> anyhow::Result<bool> {
        let read = |root: &Path| {
            let p = root.join("thoughts/note-00001.md");
            std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
        };
        Ok(read(a)? == read(b)?)
    };
    let ok = same(&ours_a, &ours_b)? && same(&theirs_a, &theirs_b)?;

    let mut body = format!(
        "{notes} notes, {} in all (most 0.5-8 KB, 9% 8-64 KB, 1% 64-320 KB), in the four \
         seed folders. Ours: `steel-sync sync` (one process per sync) against the functions \
         behind `cargo lambda watch` (profile `bench-fast`), Postgres and s3s-fs on this \
         machine. Peer: {rclone_version}, `rclone sync --checksum --transfers 16 --checkers 16` \
         (a listing per folder: s3s-fs mishandles `--fast-list`'s recursive listing) to the same s3s-fs. Requests: every HTTP request each tool made \
         (ours: API + S3; rclone: S3, from `--dump headers`); bytes: request and response \
         bodies (rclone's approximate: its header dump interleaves 16 transfers, and the \
         length a HEAD answer names is not counted). Ratio = ours / rclone (below 1: ours \
         is cheaper). Ours fetches through packs (`POST /vault/packs`) from 64 notes to \
         fetch, note by note below, and uploads each push batch (up to 1,000 notes) through \
         one incoming pack (`POST /vault/bulk`) from 64 blobs to upload. Rows marked *50 ms RTT*: a new vault and bucket, every \
         request of both tools through a local delaying proxy, 25 ms each way \
         (`bench/src/delay_proxy.rs`: ours as its HTTP proxy, `STEEL_SYNC_PROXY`; rclone's \
         S3 endpoint), the backend's own calls to Postgres and S3 on loopback as inside a \
         region.\n\n",
        mib(bytes)
    );
    body.push_str(
        "| scenario | ours: time | rclone: time | time ratio | ours: requests | rclone: requests | ours: sent / received | rclone: sent / received |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut summary = String::from("| scenario | ours | rclone | ratio |\n|---|---:|---:|---:|\n");
    for (name, o, r) in &rows {
        body.push_str(&format!(
            "| {name} | {:.2} s | {:.2} s | {} | {} | {} | {} / {} | {} / {} |\n",
            o.secs,
            r.secs,
            ratio(o.secs, r.secs),
            o.requests,
            r.requests,
            mib(o.sent),
            mib(o.received),
            mib(r.sent),
            mib(r.received),
        ));
        summary.push_str(&format!(
            "| {name} | {:.2} s, {} req | {:.2} s, {} req | {} |\n",
            o.secs,
            o.requests,
            r.secs,
            r.requests,
            ratio(o.secs, r.secs)
        ));
    }
    if let Some(steps) = first_steps {
        body.push_str(&format!(
            "\nThe first no-change sync, as the client reports it: {steps} (the delta holds \
             this device's own new versions; the notes read are those modified within the \
             timestamp granularity of the upload's scan).\n"
        ));
    }
    body.push_str(&format!(
        "\n**The client's no-change sync**, repeated after the one above (its delta is now \
         empty: one `state` request), {} runs, medians: the whole `steel-sync sync` process, \
         `sync()` as the client timed it, and the steps it reports with `--stats`: when the \
         scan was done, with how many notes it had to read and hash, and when the plan was \
         (the server's changes are read while the vault is scanned).\n\n{client_table}",
        if quick { 3 } else { 7 }
    ));
    summary.push_str(&format!(
        "\nThe client's no-change sync (empty delta), median: {client_summary}.\n"
    ));
    body.push_str(&format!(
        "\n**Plaintext vs end-to-end encrypted**: the same {notes} notes in an encrypted \
         account (set up with `steel-sync encrypt`; its second vault unlocked with \
         `steel-sync unlock`), the same binary and backend, in this run. An encrypted vault's \
         second vault fetches through packs the ciphertexts its state listing names beside \
         the sealed fields (no pulls). Goal (issue 26): encrypted within 1.2× the plaintext time and \
         1.1× the bytes, the empty-delta sync still one request. Ratio = encrypted / \
         plaintext. The empty-delta and one-note rows are the median of {short} runs in each \
         mode (a note edited before each; its requests and bytes are that run's); the others \
         one run each, the first no-change sync being the one after the upload.\n\n{encrypted_table}",
        short = SHORT_RUNS,
    ));
    summary.push_str(&format!("\n{encrypted_summary}"));
    if !ok {
        body.push_str("\n**The second vaults did not end with the first vault's edit.**\n");
    }
    Ok((
        Section {
            title: "2. End to end vs rclone".into(),
            body,
            summary,
        },
        ok,
    ))
}
