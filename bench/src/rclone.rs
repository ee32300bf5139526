//! rclone as part 2's peer: `rclone sync` runs with its requests counted from its header
//! dump.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::e2e_rclone::Cost;

pub(crate) struct Rclone {
    /// The `bench` remote, configured through rclone's environment variables.
    pub(crate) env: Vec<(&'static str, String)>,
    pub(crate) remote: String,
    pub(crate) dump_dir: PathBuf,
    pub(crate) runs: usize,
}

impl Rclone {
    /// `rclone sync --checksum` (content compared by MD5 from the listing, as ours compares
    /// SHA-256), 16 transfers (ours moves 16 files at a time), headers dumped to count the
    /// requests and their body bytes. Not `--fast-list`: s3s-fs answers its recursive listing
    /// (an empty delimiter) with one bogus common prefix, so rclone would see no files.
    fn sync(&mut self, from: &str, to: &str) -> anyhow::Result<Cost> {
        self.runs += 1;
        let log = self.dump_dir.join(format!("rclone-{}.log", self.runs));
        let started = Instant::now();
        let out = Command::new("rclone")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            // rclone's AWS SDK fails on a custom CA bundle with its own HTTP transport.
            .env_remove("AWS_CA_BUNDLE")
            .args([
                "sync",
                from,
                to,
                "--checksum",
                "--transfers",
                "16",
                "--checkers",
                "16",
                "--exclude",
                ".steel/**",
                "--dump",
                "headers",
                "--log-file",
                log.to_str().unwrap(),
            ])
            .output()
            .context("running rclone")?;
        let secs = started.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!(
                "rclone sync {from} {to} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let dump = std::fs::read_to_string(&log)
            .with_context(|| format!("reading rclone's log {}", log.display()))?;
        let (mut requests, mut sent, mut received) = (0u64, 0u64, 0u64);
        let (mut in_request, mut head) = (false, false);
        for line in dump.lines() {
            if line.contains("HTTP REQUEST") {
                requests += 1;
                in_request = true;
            } else if line.contains("HTTP RESPONSE") {
                in_request = false;
            } else if in_request && line.contains(" HTTP/1.1") {
                // The answer to a HEAD names the object's length but carries no body.
                head = line.contains("HEAD ");
            } else if in_request || !head {
                let Some(v) = line
                    .split_once("Content-Length:")
                    .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                else {
                    continue;
                };
                if in_request {
                    sent += v;
                } else {
                    received += v;
                }
            }
        }
        Ok(Cost {
            secs,
            requests,
            sent,
            received,
        })
    }

    pub(crate) fn upload(&mut self, vault: &Path) -> anyhow::Result<Cost> {
        let remote = self.remote.clone();
        self.sync(vault.to_str().unwrap(), &remote)
    }

    pub(crate) fn download(&mut self, vault: &Path) -> anyhow::Result<Cost> {
        let remote = self.remote.clone();
        self.sync(&remote, vault.to_str().unwrap())
    }
}
