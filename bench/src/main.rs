//! `steel-bench`: how the cost of a sync grows with the vault (`make bench`; issue 8).
//!
//! Runs against the local services (`scripts/with-services.sh` exports their settings) in a
//! database of its own, and prints a Markdown report, also written to BENCHMARKS.md and
//! into the README's performance section. The parts:
//!
//! 1. [`vault_size`]: handler cost vs vault size (100 to 100,000 files), SQL statements per
//!    request.
//! 2. [`e2e_rclone`]: the reference client against rclone, end to end, on the same S3 (the
//!    runner of rclone in [`rclone`]), and again through a 50 ms round trip ([`e2e_rtt`],
//!    [`delay_proxy`]).
//! 3. [`cold_start`]: binary sizes and process start → first handled request.
//! 4. [`concurrency`]: 50 devices of one user and 50 users syncing at once.
//! 5. [`recovery`]: history, deleted, restore and a rewind on a vault of 10,000 notes.
//! 6. [`notifier`]: a batch fanning out to 100 devices, and device-to-device propagation.
//! 7. [`janitor`]: one janitor run over 100,000 notes with a year of history.
//! 8. [`pooler`]: 200 function instances through PgBouncer (transaction mode) in front of a
//!    server of 20 connections, and straight against it; what unnamed statements cost. Last:
//!    it switches the process to unnamed statements for good.
//! 9. [`e2ee`]: end-to-end encryption (`steel-crypto`): Argon2id unlock at the defaults,
//!    encrypt + decrypt throughput against plain SHA-256 (the crate's example, run alone).
//!
//! 10. [`fair_use`]: one account at ten times its request budgets while 50 others sync;
//!     the limiter's cost on a no-change `state`. Runs before part 8.
//!
//! Adding a part: a module with `pub async fn run(env: &BenchEnv, plan) -> Result<Section>`,
//! a number in [`PARTS`] and an arm in [`run_part`].

mod api;
mod client_sync;
mod cold_start;
mod concurrency;
mod delay_proxy;
mod e2e_encrypted;
mod e2e_rclone;
mod e2e_rtt;
mod e2ee;
mod env;
mod fair_use;
mod janitor;
mod lambda_api;
mod notifier;
mod pooler;
mod rclone;
mod recovery;
mod report;
mod seed;
mod sqlcount;
mod stats;
mod vault_size;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::env::BenchEnv;
use crate::report::Section;

/// Every part, by number; `--parts` picks some.
const PARTS: &[(u8, &str)] = &[
    (1, "Handler cost vs vault size"),
    (2, "End to end vs rclone"),
    (3, "Cold start and size"),
    (4, "Concurrency"),
    (5, "Getting notes back"),
    (6, "Notifier"),
    // Last: it switches the process to unnamed statements (see the module).
    (7, "Janitor"),
    (10, "Fair use"),
    (8, "Through a transaction pooler"),
    (9, "End-to-end encryption"),
];

const USAGE: &str =
    "usage: steel-bench [--parts 1,2,3,4,5,6,7,8,9,10] [--quick] [--out FILE] [--readme FILE]
                   [--bin-dir DIR] [--lambda-dir DIR] [--functions-dir DIR]
                   [--profile NAME] [--arm64-note TEXT]
Runs the benchmarks against the services in the environment (scripts/with-services.sh) and
prints the report; --out writes it (BENCHMARKS.md), --readme replaces the README block between
the bench markers. --quick: small sizes and few rounds, to check the bench itself.";

struct Args {
    parts: Vec<u8>,
    quick: bool,
    out: Option<PathBuf>,
    readme: Option<PathBuf>,
    bin_dir: PathBuf,
    lambda_dir: PathBuf,
    functions_dir: PathBuf,
    profile: String,
    arm64_note: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = Args {
        parts: PARTS.iter().map(|(n, _)| *n).collect(),
        quick: false,
        out: None,
        readme: None,
        bin_dir: root.join("target/bench-fast"),
        lambda_dir: root.join("target/lambda"),
        functions_dir: root.join("functions"),
        profile: "bench-fast".into(),
        arm64_note: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--parts" => {
                args.parts = value()?
                    .split(',')
                    .map(|p| p.trim().parse::<u8>())
                    .collect::<Result<_, _>>()
                    .context("--parts: numbers separated by commas")?;
                if let Some(p) = args
                    .parts
                    .iter()
                    .find(|p| !PARTS.iter().any(|(n, _)| n == *p))
                {
                    bail!("no part {p}\n{USAGE}");
                }
            }
            "--quick" => args.quick = true,
            "--out" => args.out = Some(value()?.into()),
            "--readme" => args.readme = Some(value()?.into()),
            "--bin-dir" => args.bin_dir = value()?.into(),
            "--lambda-dir" => args.lambda_dir = value()?.into(),
            "--functions-dir" => args.functions_dir = value()?.into(),
            "--profile" => args.profile = value()?,
            "--arm64-note" => args.arm64_note = value()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

/// Runs one part; `Ok(false)` when it ran but found failures.
async fn run_part(env: &BenchEnv, args: &Args, part: u8) -> anyhow::Result<(Section, bool)> {
    match part {
        1 => {
            let plan = if args.quick {
                vault_size::Plan {
                    sizes: vec![100, 1_000],
                    rounds_small: 5,
                    rounds_100: 3,
                    rounds_1000: 2,
                    upload_concurrency: 16,
                }
            } else {
                vault_size::Plan {
                    sizes: vec![100, 1_000, 10_000, 100_000],
                    rounds_small: 100,
                    rounds_100: 50,
                    rounds_1000: 20,
                    upload_concurrency: 16,
                }
            };
            Ok((vault_size::run(env, &plan).await?, true))
        }
        // Needs the dev stack and rclone; a failure here is reported in its section and does
        // not cost the other parts their figures.
        2 => match e2e_rclone::run(&args.bin_dir, args.quick).await {
            Ok(done) => Ok(done),
            Err(e) => {
                eprintln!("[bench] part 2 did not complete: {e:#}");
                Ok((
                    Section {
                        title: "2. End to end vs rclone".into(),
                        body: format!("**Did not complete in this run**: {e:#}\n"),
                        summary: format!("Did not complete in the last run: {e:#}"),
                    },
                    false,
                ))
            }
        },
        3 => {
            let plan = cold_start::Plan {
                starts: if args.quick { 2 } else { 20 },
                bin_dir: args.bin_dir.clone(),
                lambda_dir: args.lambda_dir.clone(),
                functions_dir: args.functions_dir.clone(),
                arm64_note: args.arm64_note.clone(),
                profile: args.profile.clone(),
            };
            Ok((cold_start::run(env, &plan).await?, true))
        }
        4 => {
            let plan = if args.quick {
                concurrency::Plan::new(5, 3)
            } else {
                concurrency::Plan::new(50, 20)
            };
            concurrency::run(env, &plan).await
        }
        5 => Ok((recovery::run(env, args.quick).await?, true)),
        6 => Ok((notifier::run(env, args.quick).await?, true)),
        8 => {
            let part = pooler::Part8 {
                instances: 200,
                rounds: if args.quick { 2 } else { 10 },
                control_rounds: 2,
                cost_workers: if args.quick { 5 } else { 20 },
                cost_rounds: if args.quick { 3 } else { 20 },
            };
            pooler::run(env, &part).await
        }
        7 => Ok((janitor::run(env, args.quick).await?, true)),
        9 => Ok((e2ee::run(&args.bin_dir, args.quick)?, true)),
        10 => {
            let plan = fair_use::Plan {
                users: if args.quick { 5 } else { 50 },
                rounds: if args.quick { 3 } else { 10 },
                pause: std::time::Duration::from_millis(200),
                cost_samples: if args.quick { 20 } else { 300 },
            };
            fair_use::run(env, &plan).await
        }
        other => bail!("no part {other}"),
    }
}

async fn run() -> anyhow::Result<bool> {
    let args = parse_args()?;
    sqlcount::install()?;
    let started = Instant::now();
    let env = BenchEnv::create().await?;
    eprintln!("[bench] database {} ready", env.db_name);
    let result = run_parts(&env, &args, started).await;
    // Clean up whatever happened; a failed clean-up is reported, not fatal.
    if let Err(e) = env.cleanup().await {
        eprintln!("[bench] WARNING: {e:#}");
    }
    result
}

async fn run_parts(env: &BenchEnv, args: &Args, started: Instant) -> anyhow::Result<bool> {
    let machine = report::machine(&env.admin).await;
    let mut sections = Vec::new();
    let mut all_ok = true;
    for (part, name) in PARTS {
        if !args.parts.contains(part) {
            continue;
        }
        let t = Instant::now();
        eprintln!("[bench] part {part}: {name}");
        let (section, ok) = run_part(env, args, *part)
            .await
            .with_context(|| format!("part {part} ({name})"))?;
        eprintln!(
            "[bench] part {part} done in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        all_ok &= ok;
        sections.push(section);
    }
    let total = started.elapsed().as_secs_f64();
    // Some parts only: what is written keeps the other parts' sections from the files.
    let partial = PARTS.iter().any(|(n, _)| !args.parts.contains(n));
    if let (true, Some(out)) = (partial, &args.out) {
        sections = keep_earlier(args, out, sections);
    }
    let measured = partial.then(|| {
        args.parts
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    });
    let doc = report::document(
        &machine,
        &sections,
        &args.profile,
        total,
        measured.as_deref(),
    );
    println!("{doc}");
    if let Some(out) = &args.out {
        std::fs::write(out, &doc).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("[bench] wrote {}", out.display());
    }
    if let Some(readme) = &args.readme {
        let mut summary = String::new();
        let when = machine
            .iter()
            .find(|(k, _)| k.starts_with("date"))
            .map_or("", |(_, v)| v.as_str());
        let cpu = machine
            .iter()
            .find(|(k, _)| k == "CPU")
            .map_or("", |(_, v)| v.as_str());
        let parts = measured
            .as_ref()
            .map(|p| {
                let noun = if p.contains(',') { "parts" } else { "part" };
                format!(" ({noun} {p}; the others from the earlier run named in each)")
            })
            .unwrap_or_default();
        summary.push_str(&format!(
            "Last `make bench`: {when} UTC on {cpu}{parts}; details, method and the machine in \
             [BENCHMARKS.md](BENCHMARKS.md).\n"
        ));
        for s in &sections {
            summary.push_str(&format!("\n**{}**\n\n{}\n", s.title, s.summary.trim_end()));
        }
        if report::update_readme(readme, &summary)? {
            eprintln!(
                "[bench] updated the performance section of {}",
                readme.display()
            );
        } else {
            eprintln!(
                "[bench] {} has no bench markers: performance section not updated",
                readme.display()
            );
        }
    }
    Ok(all_ok)
}

/// This run's sections, and for every part it did not run, that part's section from the
/// report being replaced (BENCHMARKS.md, and the README's summary of it), in part order.
fn keep_earlier(args: &Args, out: &Path, mut ran: Vec<Section>) -> Vec<Section> {
    let doc = std::fs::read_to_string(out).unwrap_or_default();
    let readme = args
        .readme
        .as_ref()
        .and_then(|r| std::fs::read_to_string(r).ok());
    let mut earlier = report::earlier_sections(&doc, readme.as_deref());
    let mut all = Vec::new();
    for (n, _) in PARTS {
        let prefix = format!("{n}. ");
        let from = if args.parts.contains(n) {
            &mut ran
        } else {
            &mut earlier
        };
        if let Some(i) = from.iter().position(|s| s.title.starts_with(&prefix)) {
            all.push(from.remove(i));
        }
    }
    all
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("[bench] FAILED: unexpected errors (see the report above)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("[bench] error: {e:#}");
            ExitCode::from(2)
        }
    }
}
