//! Part 9: end-to-end encryption (`steel-crypto`): Argon2id unlock at the default parameters
//! (time, peak memory) and encrypt + decrypt throughput against plain SHA-256.
//!
//! The figures come from the crate's own example (`crypto/examples/crypto_bench.rs`, built by
//! scripts/bench.sh in the bench profile), run as a process of its own so its peak RSS is the
//! KDF's and not this bench's. It prints the section's body, `<!-- summary -->`, the summary.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::report::Section;

pub fn run(bin_dir: &Path, quick: bool) -> anyhow::Result<Section> {
    let exe = bin_dir.join("examples/crypto_bench");
    let mut cmd = Command::new(&exe);
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {} (scripts/bench.sh builds it)", exe.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout).context("crypto_bench output is not UTF-8")?;
    let (body, summary) = text
        .split_once("<!-- summary -->")
        .context("crypto_bench printed no summary marker")?;
    let (title, body) = body
        .trim_start()
        .strip_prefix("## ")
        .and_then(|b| b.split_once('\n'))
        .context("crypto_bench printed no title")?;
    Ok(Section {
        title: title.trim().to_owned(),
        body: body.trim().to_owned() + "\n",
        summary: summary.trim().to_owned(),
    })
}
