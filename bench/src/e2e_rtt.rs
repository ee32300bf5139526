//! Part 2's rows with an emulated round-trip time: the first upload of the vault and a
//! second vault's first sync, ours and rclone's, every request of both tools through
//! [`crate::delay_proxy`] delaying each direction by [`ONE_WAY`] (a 50 ms round trip, as on
//! a phone), while the backend's own calls (the functions to Postgres and S3) stay on
//! loopback, as they would stay inside a region.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::delay_proxy::{self, Upstream};
use crate::e2e_rclone::{Cost, Rclone, copy_tree, login, ours_with_steps};

/// Half the emulated round trip.
pub const ONE_WAY: Duration = Duration::from_millis(25);

/// What the rows need from the loopback run.
pub struct Setup<'a> {
    pub bin: &'a Path,
    pub api: &'a str,
    /// The vault to upload (its notes, not its sync state).
    pub source: &'a Path,
    pub work: &'a Path,
    pub rclone_env: &'a [(&'static str, String)],
    pub run_id: &'a str,
}

/// The rows: (scenario, ours, rclone).
pub fn rows(setup: &Setup<'_>) -> anyhow::Result<Vec<(&'static str, Cost, Cost)>> {
    let s3: SocketAddr = std::env::var("AWS_ENDPOINT_URL_S3")
        .context("AWS_ENDPOINT_URL_S3 is not set")?
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .context("AWS_ENDPOINT_URL_S3 is not http://ip:port")?;
    let http_proxy = delay_proxy::start(Upstream::HttpProxy, ONE_WAY)?;
    let to_s3 = delay_proxy::start(Upstream::Fixed(s3), ONE_WAY)?;
    let proxy = format!("http://{http_proxy}");

    let dir = |name: &str| -> anyhow::Result<std::path::PathBuf> {
        let p = setup.work.join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    };
    let (ours_a, ours_b) = (dir("rtt-ours-a")?, dir("rtt-ours-b")?);
    let (theirs_a, theirs_b) = (dir("rtt-rclone-a")?, dir("rtt-rclone-b")?);
    copy_tree(setup.source, &ours_a)?;
    copy_tree(setup.source, &theirs_a)?;
    let sub = format!("bench-e2e-rtt-{}", setup.run_id);
    login(setup.bin, setup.api, &ours_a, &sub, "bench-rtt-a")?;
    login(setup.bin, setup.api, &ours_b, &sub, "bench-rtt-b")?;

    let mut env = setup.rclone_env.to_vec();
    for (name, value) in &mut env {
        if *name == "RCLONE_CONFIG_BENCH_ENDPOINT" {
            *value = format!("http://{to_s3}");
        }
    }
    let mut rclone = Rclone {
        env,
        remote: format!("bench:rclone-bench-rtt-{}", setup.run_id),
        dump_dir: setup.work.to_path_buf(),
        runs: 100,
    };
    let ours = |vault: &Path| ours_with_steps(setup.bin, vault, Some(&proxy)).map(|(c, _)| c);
    let upload = (ours(&ours_a)?, rclone.upload(&theirs_a)?);
    let download = (ours(&ours_b)?, rclone.download(&theirs_b)?);
    let note = |root: &Path| std::fs::read(root.join("thoughts/note-00001.md")).ok();
    anyhow::ensure!(
        note(&ours_b).is_some() && note(&ours_b) == note(&theirs_b),
        "the 50 ms second vaults differ"
    );
    Ok(vec![
        ("initial upload, 50 ms RTT", upload.0, upload.1),
        (
            "second vault, first sync (download all), 50 ms RTT",
            download.0,
            download.1,
        ),
    ])
}
