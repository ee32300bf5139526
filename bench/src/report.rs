//! The report: the machine, one section per part, as Markdown; written to BENCHMARKS.md
//! and, between markers, into the README's performance section.

use std::path::Path;
use std::process::Command;

use anyhow::Context as _;
use sqlx::PgPool;

/// One part's results, Markdown.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    /// The full text, for BENCHMARKS.md.
    pub body: String,
    /// The figures alone, for the README.
    pub summary: String,
}

/// The README block between these markers is replaced by each run.
pub const README_START: &str =
    "<!-- bench:start (written by `make bench`; edits here are lost) -->";
pub const README_END: &str = "<!-- bench:end -->";

fn first_line_of(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once([':', '=']).map(|(_, v)| v))
        .map(|v| v.trim().trim_matches('"').to_owned())
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What the numbers were measured on: (name, value) rows.
pub async fn machine(pool: &PgPool) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut push = |k: &str, v: String| rows.push((k.to_owned(), v));
    push(
        "date (UTC)",
        chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string(),
    );
    push(
        "CPU",
        format!(
            "{} × {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            first_line_of("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into())
        ),
    );
    let mem = first_line_of("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    push("memory", mem);
    push(
        "OS",
        format!(
            "{}, kernel {}",
            first_line_of("/etc/os-release", "PRETTY_NAME").unwrap_or_else(|| "unknown".into()),
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        ),
    );
    push(
        "load average at start",
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    );
    let pg: Option<String> = sqlx::query_scalar("SELECT version()")
        .fetch_one(pool)
        .await
        .ok();
    push(
        "PostgreSQL",
        pg.map(|v| v.split(" on ").next().unwrap_or(&v).to_owned())
            .unwrap_or_else(|| "unknown".into()),
    );
    let sqs = if std::env::var_os("STEEL_BENCH_PRIVATE_SQS").is_some() {
        "moto (a moto_server of the run's own)"
    } else {
        "moto"
    };
    push(
        "S3 / SQS",
        format!("s3s-fs 0.14.1 (checks SigV4 and checksums) / {sqs}, both on loopback"),
    );
    push(
        "Rust",
        command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
    );
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    push(
        "commit",
        format!(
            "{commit}{}",
            if dirty { " (with local changes)" } else { "" }
        ),
    );
    rows
}

/// The whole document. `partial` names the parts this run measured when it kept the others
/// from an earlier report.
pub fn document(
    machine: &[(String, String)],
    sections: &[Section],
    build_profile: &str,
    total_secs: f64,
    partial: Option<&str>,
) -> String {
    let mut doc = String::from("# Benchmarks\n\n");
    doc.push_str(
        "Written by `make bench` (`scripts/bench.sh`, the `steel-bench` crate in `bench/`); \
         every figure below comes from the last run. Medians and ratios are measured side by side \
         in one run: the machines are shared and noisy, so compare figures within a run, not \
         across runs.\n\n",
    );
    doc.push_str("| machine | |\n|---|---|\n");
    for (k, v) in machine {
        doc.push_str(&format!("| {k} | {v} |\n"));
    }
    doc.push_str(&format!(
        "| bench build | `{build_profile}` profile; run took {total_secs:.0} s (without builds) |\n"
    ));
    if let Some(parts) = partial {
        doc.push_str(&format!(
            "| parts measured | {parts} (`--parts`); the other sections are kept from the run \
             named at their top |\n"
        ));
    }
    doc.push('\n');
    for s in sections {
        doc.push_str(&format!("## {}\n\n{}\n", s.title, s.body.trim_end()));
        doc.push_str("\n\n");
    }
    doc
}

/// Replaces the README's block between the markers with `summary`. A README without the
/// markers is left alone (and said so).
pub fn update_readme(path: &Path, summary: &str) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    let (Some(start), Some(end)) = (text.find(README_START), text.find(README_END)) else {
        return Ok(false);
    };
    if end < start {
        return Ok(false);
    }
    let mut out = String::with_capacity(text.len() + summary.len());
    out.push_str(&text[..start + README_START.len()]);
    out.push('\n');
    out.push_str(summary.trim_end());
    out.push('\n');
    out.push_str(&text[end..]);
    if out != text {
        std::fs::write(path, out).with_context(|| format!("writing {path:?}"))?;
    }
    Ok(true)
}

/// The mark of a README summary kept from an earlier run.
const EARLIER_SUMMARY: &str = "*(earlier run)*";

/// Marks the body of a section kept from an earlier run.
const EARLIER: &str = "*Kept from the run of ";

/// The sections of an earlier report (BENCHMARKS.md), with their README summaries when the
/// README's block has them, so that a run of some parts (`--parts`) keeps the others. Each
/// body opens with the run it was measured in (date and commit from that report).
pub fn earlier_sections(doc: &str, readme: Option<&str>) -> Vec<Section> {
    let cell = |key: &str| {
        doc.lines()
            .find_map(|l| l.strip_prefix(&format!("| {key} | ")))
            .map(|v| v.trim_end_matches(" |").trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    let origin = format!(
        "{EARLIER}{} UTC, commit {}; not measured by the latest run.*\n\n",
        cell("date (UTC)"),
        cell("commit")
    );
    let block = readme.and_then(|text| {
        let start = text.find(README_START)? + README_START.len();
        Some(&text[start..start + text[start..].find(README_END)?])
    });
    let mut sections: Vec<Section> = doc
        .split("\n## ")
        .skip(1)
        .filter_map(|chunk| {
            let (title, body) = chunk.split_once('\n')?;
            let body = body.trim();
            let body = if body.starts_with(EARLIER) {
                format!("{body}\n")
            } else {
                format!("{origin}{body}\n")
            };
            Some(Section {
                title: title.trim().to_owned(),
                body,
                summary: String::new(),
            })
        })
        .collect();
    // Each summary runs from its bold title to the next section's.
    if let Some(block) = block {
        let starts: Vec<(usize, usize)> = sections
            .iter()
            .enumerate()
            .filter_map(|(i, s)| block.find(&format!("**{}**\n", s.title)).map(|at| (at, i)))
            .collect();
        for &(at, i) in &starts {
            let from = at + sections[i].title.len() + 5;
            let to = starts
                .iter()
                .map(|&(other, _)| other)
                .filter(|&other| other > at)
                .min()
                .unwrap_or(block.len());
            // Marked once, however many partial runs keep it; a summary that opens with a
            // table gets the mark on a line of its own, so the table stays a table.
            let kept = block[from..to].trim();
            sections[i].summary = match kept.strip_prefix(EARLIER_SUMMARY) {
                Some(_) => kept.to_owned(),
                None if kept.starts_with('|') => format!("{EARLIER_SUMMARY}\n\n{kept}"),
                None => format!("{EARLIER_SUMMARY} {kept}"),
            };
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_run_keeps_the_other_sections_with_their_date() {
        let doc = "# Benchmarks\n\n| machine | |\n|---|---|\n| date (UTC) | 2026-11-25 01:59 |\n\
                   | commit | 16c3195 |\n\n## 1. One\n\nfirst body\n\n## 2. Two\n\nsecond body\n";
        let readme = format!(
            "intro\n{README_START}\nLast run.\n\n**1. One**\n\none figures\n\n**2. Two**\n\n\
             two figures\n{README_END}\nrest"
        );
        let kept = earlier_sections(doc, Some(&readme));
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1].title, "2. Two");
        assert_eq!(
            kept[1].body,
            "*Kept from the run of 2026-11-25 01:59 UTC, commit 16c3195; not measured by the \
             latest run.*\n\nsecond body\n"
        );
        assert_eq!(kept[0].summary, "*(earlier run)* one figures");
        assert_eq!(kept[1].summary, "*(earlier run)* two figures");
        // Kept again by a later partial run: still dated by the run that measured it.
        let again = document(&[], &kept, "p", 1.0, Some("3"));
        let twice = earlier_sections(&again, None);
        assert_eq!(twice[1].body, kept[1].body);
    }
}
