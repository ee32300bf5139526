//! `make bench` part 9 (run by steel-bench, or alone:
//! `cargo run --profile bench-fast -p steel-crypto --example crypto_bench [-- --quick]`):
//! Argon2id unlock at the default parameters (time, peak memory), and encrypt + decrypt
//! throughput for 4 KiB notes and 1 MiB blobs against plain SHA-256 of the same bytes (what
//! the client computes today, `ContentHash::of`), in the same process.
//!
//! Prints Markdown: the section's body, a line `<!-- summary -->`, then its summary.

use std::hint::black_box;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use steel_crypto::{
    KdfParams, KdfPolicy, KeySlot, SecretKey, VaultKeys, decrypt_blob, encrypt_blob,
};
use steel_protocol::ContentHash;

/// A line of /proc/self/status in KiB (`VmHWM`: peak resident set; `VmRSS`: now).
fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Best of `rounds` runs of `f` over `bytes` plaintext bytes, in MB/s (10^6 bytes).
fn mb_per_s(rounds: usize, bytes: usize, mut f: impl FnMut()) -> f64 {
    let best = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    bytes as f64 / best / 1e6
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let vk = SecretKey::generate(&mut rng);

    // Unlock first, while the process is small, so the peak is the KDF's.
    let rss_before = status_kib("VmRSS:");
    let params = KdfParams::DEFAULT;
    let slot = KeySlot::seal_passphrase(&vk, 0, "bench passphrase", params, &mut rng).unwrap();
    let unlocks = if quick { 2 } else { 7 };
    let times: Vec<f64> = (0..unlocks)
        .map(|_| {
            let t = Instant::now();
            let opened = slot
                .open_passphrase("bench passphrase", &KdfPolicy::DEFAULT)
                .unwrap();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(opened, vk);
            secs
        })
        .collect();
    let peak = status_kib("VmHWM:");
    let (min, med, max) = (
        times.iter().copied().fold(f64::INFINITY, f64::min),
        median(times.clone()),
        times.iter().copied().fold(0.0, f64::max),
    );

    let keys = VaultKeys::generation0(&vk);
    let rounds = if quick { 1 } else { 5 };
    let mut rows = Vec::new();
    for (label, size, count) in [
        ("4 KiB notes", 4096, if quick { 200 } else { 2000 }),
        ("1 MiB blobs", 1 << 20, if quick { 4 } else { 48 }),
    ] {
        let contents: Vec<Vec<u8>> = (0..count)
            .map(|i| (0..size).map(|j| ((i * 7 + j) % 251) as u8).collect())
            .collect();
        let total = size * count;
        let sha = mb_per_s(rounds, total, || {
            contents
                .iter()
                .for_each(|c| _ = black_box(ContentHash::of(c)))
        });
        let blobs: Vec<_> = contents
            .iter()
            .map(|c| encrypt_blob(&keys, c, &mut rng))
            .collect();
        let enc = mb_per_s(rounds, total, || {
            contents
                .iter()
                .for_each(|c| _ = black_box(encrypt_blob(&keys, c, &mut rng)))
        });
        let dec = mb_per_s(rounds, total, || {
            blobs
                .iter()
                .for_each(|b| _ = black_box(decrypt_blob(&keys, &b.id, &b.bytes).unwrap()))
        });
        let stored: usize = blobs.iter().map(|b| b.bytes.len()).sum();
        rows.push((label, count, sha, enc, dec, stored as f64 / total as f64));
    }

    println!("## 9. End-to-end encryption (steel-crypto)\n");
    println!(
        "`cargo run --profile bench-fast -p steel-crypto --example crypto_bench`: one process, \
         single-threaded (as on a phone's sync thread and in wasm).\n"
    );
    println!(
        "**Unlock** (Argon2id v1.3, m = {} MiB, t = {}, p = {}: open one passphrase slot, {unlocks} times):\n",
        params.m_kib / 1024,
        params.t,
        params.p
    );
    println!("| min | median | max | peak RSS of the process | RSS before |");
    println!("|---|---|---|---|---|");
    println!(
        "| {:.0} ms | {:.0} ms | {:.0} ms | {} | {} |\n",
        min * 1e3,
        med * 1e3,
        max * 1e3,
        mib(peak),
        mib(rss_before)
    );
    println!(
        "**Throughput** (MB/s of plaintext, best of {rounds} rounds; encrypt = blob id HMAC + padding + STREAM; decrypt = STREAM + padding check + blob id check):\n"
    );
    println!(
        "| content | count | SHA-256 (today) | encrypt | decrypt | stored / plaintext bytes |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, count, sha, enc, dec, ratio) in &rows {
        println!("| {label} | {count} | {sha:.0} | {enc:.0} | {dec:.0} | {ratio:.3} |");
    }
    println!(
        "\n**A mid-range phone (an estimate, not a measurement)**: Argon2id with one lane is \
         single-threaded, bound by memory latency and 64-bit arithmetic. A mid-range phone's big \
         core (Cortex-A78 class) scores about half of a current server or desktop core in \
         published Geekbench 6 single-core results; with up to half again for LPDDR latency, \
         2-3 times this median: about {:.1}-{:.1} s per unlock, and the same ~{} peak (the \
         memory is the parameter, not the machine).",
        med * 2.0,
        med * 3.0,
        mib(peak)
    );
    println!("\n<!-- summary -->");
    println!(
        "Unlock (Argon2id 64 MiB, t = 3, p = 1): {:.0} ms median, peak RSS {}. Encrypt / decrypt / SHA-256 (MB/s): 4 KiB notes {:.0} / {:.0} / {:.0}; 1 MiB blobs {:.0} / {:.0} / {:.0}.",
        med * 1e3,
        mib(peak),
        rows[0].3,
        rows[0].4,
        rows[0].2,
        rows[1].3,
        rows[1].4,
        rows[1].2
    );
}
