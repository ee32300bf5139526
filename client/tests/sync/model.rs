//! Seeded model test with injected faults, in the spirit of Dropbox's randomized sync
//! testing. From a seed, 2-4 devices of one user (client library instances on their own vault
//! folders, through the local stack) create, edit, delete and rename notes and sync, some
//! syncs split in two with other devices acting in between, while faults are injected
//! between client and API: a request dropped before it reaches the server, an answer lost
//! after the server acted, a request sent twice, an upload that never happens, a crash
//! between writing a pulled file and recording it. Devices also restore a deleted note or an
//! older version, rewind the vault to an earlier moment, and have their folder wiped by
//! accident (the mass-delete guard must hold the deletes back, and `--restore-missing`
//! bring the notes back); the janitor runs with one-day retentions two days ahead, so
//! deletes are forgotten and devices resync from full listings. After a quiet round it checks:
//! - all vaults are identical to each other and to the server's state;
//! - no write is lost: every line a device wrote is in the final state (in the note, a
//!   merge, or a conflict copy) unless a device removed it after seeing it;
//! - no deleted note comes back unless a device edited it without having seen the delete
//!   (or someone restored it: a restore or rewind is a deliberate change like an edit, so the
//!   lines it takes out of the server's notes count as removed, and a note it brings back
//!   as recreated).
//!
//! Even devices fetch every pull through packs (`POST /vault/packs`), odd ones note by note,
//! so both paths converge under the same faults. Every third seed's account is end-to-end
//! encrypted (its devices unlock with the passphrase; its packs hold ciphertexts).
//!
//! `STEEL_MODEL_SEEDS` (default 12) seeds run, from `STEEL_MODEL_FIRST_SEED` (default 1),
//! `STEEL_MODEL_JOBS` at a time; `STEEL_MODEL_SEED=N` replays one. A failure names its seed.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use steel_sync::faults::{Fault, Faults, Op};
use steel_sync::sync::Plan;
use steel_sync::sync::guard::MissingNotes;
use steel_sync::vault_key::Secret;
use steel_sync::{Api, SyncError, SyncReport};

use common::{Device, hashes, server_files, unique_user};

const OPS_PER_SEED: usize = 40;
const FAULT_RATE: f64 = 0.12;
const NAMES: [&str; 6] = [
    "thoughts/alpha.md",
    "thoughts/beta.md",
    "thoughts/caf\u{e9}.md",
    "questions/gamma.md",
    "questions/delta.md",
    "sources/epsilon.md",
];

/// A seeded source of faults, shared by one device's requests.
struct FaultyNet {
    rng: Mutex<ChaCha8Rng>,
    on: AtomicBool,
    log: Arc<Mutex<Vec<String>>>,
    device: String,
}

impl Faults for FaultyNet {
    fn on_request(&self, op: Op) -> Fault {
        if !self.on.load(Ordering::Relaxed) {
            return Fault::None;
        }
        let mut rng = self.rng.lock().unwrap();
        if !rng.random_bool(FAULT_RATE) {
            return Fault::None;
        }
        let fault = match (op, rng.random_range(0..4)) {
            (Op::Upload, 0) => Fault::Pretend,
            (_, 0 | 1) => Fault::DropRequest,
            (_, 2) => Fault::LoseResponse,
            _ => Fault::Duplicate,
        };
        self.log.lock().unwrap().push(format!(
            "  fault on {}: {fault:?} {}",
            self.device,
            op.name()
        ));
        fault
    }

    fn crash_after_write(&self, path: &str) -> bool {
        if !self.on.load(Ordering::Relaxed) {
            return false;
        }
        let crash = self.rng.lock().unwrap().random_bool(FAULT_RATE / 2.0);
        if crash {
            self.log.lock().unwrap().push(format!(
                "  fault on {}: crash after writing {path}",
                self.device
            ));
        }
        crash
    }
}

struct Sim {
    seed: u64,
    rng: ChaCha8Rng,
    devices: Vec<Device>,
    nets: Vec<Arc<FaultyNet>>,
    pending: Vec<Option<Plan>>,
    /// Lines written by a device and not removed by one since.
    live: BTreeSet<String>,
    /// (path, the lines the deleting device had in it).
    deletes: Vec<(String, BTreeSet<String>)>,
    next_token: u64,
    log: Arc<Mutex<Vec<String>>>,
    /// When each step began: the moments a rewind may go back to.
    moments: Vec<chrono::DateTime<chrono::Utc>>,
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

impl Sim {
    async fn new(seed: u64) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let user = unique_user(&format!("model{seed}"));
        let n = rng.random_range(2..=4);
        let log = Arc::new(Mutex::new(Vec::new()));
        // Every third seed runs an end-to-end encrypted account: the same operations, faults
        // and invariants through sealed names, manifests and blobs (packs of ciphertexts).
        let encrypted = seed.is_multiple_of(3);
        if encrypted {
            common::encrypted_account(&user).await;
            log.lock()
                .unwrap()
                .push("the account is end-to-end encrypted".into());
        }
        let mut devices = Vec::new();
        let mut nets = Vec::new();
        for i in 0..n {
            let name = format!("D{i}");
            let net = Arc::new(FaultyNet {
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(
                    seed.wrapping_mul(31).wrapping_add(i),
                )),
                on: AtomicBool::new(true),
                log: log.clone(),
                device: name.clone(),
            });
            let secret = encrypted.then_some(Secret::Passphrase(common::PASSPHRASE));
            let mut device =
                Device::opened(&user, &name, Some(net.clone() as Arc<dyn Faults>), secret).await;
            // Both fetch paths in every seed: even devices fetch every pull through packs,
            // odd ones note by note (the rng streams of the seeds stay as they were).
            let packs = i.is_multiple_of(2);
            device
                .syncer
                .set_pack_threshold(if packs { 1 } else { usize::MAX });
            // And both upload paths: devices 0 and 3 (mod 4) upload every push batch through
            // one incoming pack (`POST /vault/bulk`), the others note by note.
            let bulk = i % 4 == 0 || i % 4 == 3;
            device
                .syncer
                .set_bulk_threshold(if bulk { 1 } else { usize::MAX });
            log.lock().unwrap().push(format!(
                "{name} fetches {}, uploads {}",
                if packs {
                    "through packs"
                } else {
                    "note by note"
                },
                if bulk {
                    "through incoming packs"
                } else {
                    "note by note"
                }
            ));
            devices.push(device);
            nets.push(net);
        }
        Sim {
            seed,
            rng,
            pending: (0..n).map(|_| None).collect(),
            devices,
            nets,
            live: BTreeSet::new(),
            deletes: Vec::new(),
            next_token: 0,
            log,
            moments: Vec::new(),
        }
    }

    fn note(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    fn token(&mut self) -> String {
        self.next_token += 1;
        let t = format!("s{}-t{}", self.seed, self.next_token);
        self.live.insert(t.clone());
        t
    }

    fn existing(&self, d: usize) -> Vec<String> {
        self.devices[d].tree().into_keys().collect()
    }

    /// The on-disk name of a note (a pulled NFD name stays NFD; here all are NFC).
    fn read(&self, d: usize, path: &str) -> String {
        self.devices[d].read(path).unwrap_or_default()
    }

    /// A sync result: faults and simulated crashes are expected; anything else is a bug.
    fn check_sync(&self, d: usize, what: &str, result: Result<SyncReport, SyncError>) {
        match result {
            Ok(r) => self.note(format!("  {what} on D{d}: {}", r.summary())),
            Err(e @ (SyncError::Network { .. } | SyncError::Crash(_))) => {
                self.note(format!("  {what} on D{d} stopped: {e}"))
            }
            Err(e) => panic!("{what} on D{d} failed unexpectedly: {e}"),
        }
    }

    async fn step(&mut self, i: usize) {
        self.moments.push(chrono::Utc::now());
        let d = self.rng.random_range(0..self.devices.len());
        let existing = self.existing(d);
        match self.rng.random_range(0..100) {
            0..=17 => {
                let path = NAMES[self.rng.random_range(0..NAMES.len())];
                if existing.iter().any(|p| p == path) {
                    return;
                }
                let t = self.token();
                self.note(format!("{i}: D{d} creates {path} [{t}]"));
                self.devices[d].write(path, &format!("{t}\n"));
            }
            18..=39 if !existing.is_empty() => {
                let path = existing[self.rng.random_range(0..existing.len())].clone();
                let mut content = lines(&self.read(d, &path));
                let t = self.token();
                if content.is_empty() || self.rng.random_bool(0.5) {
                    self.note(format!("{i}: D{d} appends [{t}] to {path}"));
                    content.push(t);
                } else {
                    let at = self.rng.random_range(0..content.len());
                    let old = std::mem::replace(&mut content[at], t.clone());
                    self.note(format!("{i}: D{d} replaces [{old}] with [{t}] in {path}"));
                    self.live.remove(&old);
                }
                self.devices[d].write(&path, &(content.join("\n") + "\n"));
            }
            40..=47 if !existing.is_empty() => {
                let path = existing[self.rng.random_range(0..existing.len())].clone();
                let content: BTreeSet<String> = lines(&self.read(d, &path)).into_iter().collect();
                self.note(format!("{i}: D{d} deletes {path}"));
                for t in &content {
                    self.live.remove(t);
                }
                self.devices[d].remove(&path);
                self.deletes.push((path, content));
            }
            48..=53 if !existing.is_empty() => {
                let from = existing[self.rng.random_range(0..existing.len())].clone();
                let to = NAMES[self.rng.random_range(0..NAMES.len())];
                if existing.iter().any(|p| p == to) {
                    return;
                }
                let content: BTreeSet<String> = lines(&self.read(d, &from)).into_iter().collect();
                self.note(format!("{i}: D{d} renames {from} to {to}"));
                std::fs::create_dir_all(self.devices[d].path(to).parent().unwrap()).unwrap();
                std::fs::rename(self.devices[d].path(&from), self.devices[d].path(to)).unwrap();
                // Moving old lines into `to` recreates it on purpose: earlier deletes of
                // `to` say nothing about this content.
                self.deletes.retain(|(p, _)| p != to);
                self.deletes.push((from, content));
            }
            54..=63 if self.pending[d].is_none() => {
                self.note(format!("{i}: D{d} begins a sync"));
                match self.devices[d].syncer.begin().await {
                    Ok(plan) => self.pending[d] = Some(plan),
                    Err(e) => self.check_sync(d, "begin", Err(e)),
                }
            }
            64..=71 if self.pending[d].is_some() => {
                let plan = self.pending[d].take().unwrap();
                self.note(format!("{i}: D{d} finishes its sync"));
                let r = self.devices[d].syncer.finish(plan).await;
                self.confirm_hold(d, &r).await;
                self.check_sync(d, "finish", r);
            }
            72..=74 if self.pending[d].is_none() => self.restore(i, d).await,
            75..=76 if self.pending[d].is_none() && !self.moments.is_empty() => {
                self.rewind(i, d).await
            }
            77..=78 if self.pending[d].is_none() => self.wipe(i, d).await,
            79..=80 if std::env::var_os("STEEL_MODEL_NO_JANITOR").is_none() => {
                self.janitor(i).await
            }
            _ => {
                self.note(format!("{i}: D{d} syncs"));
                let r = self.devices[d].syncer.sync().await;
                self.confirm_hold(d, &r).await;
                self.check_sync(d, "sync", r);
            }
        }
    }

    /// Runs `op` on device `d` with its faults off, so that what it did on the server is
    /// known; then takes the server's notes before and after as a deliberate change.
    async fn deliberately<F, Fut>(&mut self, d: usize, op: F)
    where
        F: FnOnce(Arc<Api>) -> Fut,
        Fut: std::future::Future<Output = String>,
    {
        self.nets[d].on.store(false, Ordering::Relaxed);
        let api = self.devices[d].syncer.api_handle();
        let before = server_lines(&api).await;
        let said = op(api.clone()).await;
        steel_sync::sync::recovered::remember_recovery(&api, self.devices[d].syncer.store())
            .await
            .expect("recording the recovery");
        let after = server_lines(&api).await;
        self.nets[d].on.store(true, Ordering::Relaxed);
        self.note(format!("  {said}"));
        for (path, old) in &before {
            let now = after.get(path);
            for line in old.iter().filter(|l| now.is_none_or(|n| !n.contains(*l))) {
                self.live.remove(line);
            }
            if now.is_none() {
                self.deletes.push((path.clone(), old.clone()));
            }
        }
        for (path, now) in &after {
            // Brought back or set on purpose: a change on the server, which wins over a
            // device's pending delete of it (an edit wins over a delete), so earlier deletes
            // of it say nothing about it now.
            if before.get(path) != Some(now) {
                self.deletes.retain(|(p, _)| p != path);
            }
        }
    }

    /// A deleted note restored, or a live one rolled back to an older version.
    async fn restore(&mut self, i: usize, d: usize) {
        // The person looks at the server's notes first: no faults on these reads.
        self.nets[d].on.store(false, Ordering::Relaxed);
        self.restore_one(i, d).await;
        self.nets[d].on.store(true, Ordering::Relaxed);
    }

    async fn restore_one(&mut self, i: usize, d: usize) {
        let api = self.devices[d].syncer.api_handle();
        let deleted = api.deleted().await.unwrap_or_default();
        let restorable: Vec<String> = deleted
            .iter()
            .filter(|f| f["last_version"]["restorable"] == true)
            .filter_map(|f| f["path"].as_str().map(str::to_owned))
            .collect();
        let path = if !restorable.is_empty() && self.rng.random_bool(0.6) {
            restorable[self.rng.random_range(0..restorable.len())].clone()
        } else {
            let live: Vec<String> = server_files(&api).await.into_keys().collect();
            if live.is_empty() {
                return;
            }
            live[self.rng.random_range(0..live.len())].clone()
        };
        let versions = api.history(&path).await.unwrap_or_default();
        let with_content: Vec<i64> = versions
            .iter()
            .skip(1)
            .filter(|v| v["is_deleted"] == false)
            .filter_map(|v| v["version"].as_i64())
            .collect();
        let (Some(head), false) = (
            versions.first().and_then(|v| v["version"].as_i64()),
            with_content.is_empty(),
        ) else {
            return;
        };
        let version = with_content[self.rng.random_range(0..with_content.len())];
        self.note(format!("{i}: D{d} restores {path} v{version} over v{head}"));
        let named = path.clone();
        self.deliberately(d, |api| async move {
            match api.restore(&path, version, head).await {
                Ok(answer) => format!("restore answered {answer}"),
                Err(e) => format!("restore failed: {e}"),
            }
        })
        .await;
        // The person asked for this note back: even when the server already had those bytes
        // (a restore answered again), a delete of it this device has not synced yet loses.
        self.deletes.retain(|(p, _)| p != &named);
    }

    /// The vault rewound to the beginning of an earlier step.
    async fn rewind(&mut self, i: usize, d: usize) {
        let at = self.moments[self.rng.random_range(0..self.moments.len())];
        let as_of = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let remove_newer = self.rng.random_bool(0.5);
        self.note(format!(
            "{i}: D{d} rewinds the vault to {as_of} (remove newer: {remove_newer})"
        ));
        self.deliberately(d, |api| async move {
            match api.rewind(&as_of, None, remove_newer).await {
                Ok(pages) => format!("rewind answered {pages:?}"),
                Err(e) => format!("rewind failed: {e}"),
            }
        })
        .await;
    }

    /// The janitor, two days ahead with retentions of one day: it forgets every tombstone
    /// and prunes every version but the current ones (of every user of the stack; another
    /// seed's run may hold its lock, and then this one does nothing). A device whose cursor
    /// predates a forgotten delete gets 410 and resyncs from a full listing; the invariants
    /// are the same.
    async fn janitor(&mut self, i: usize) {
        let report = common::run_janitor(Some(1), 2).await;
        self.note(format!(
            "{i}: the janitor runs two days ahead, one-day retentions: {} tombstones, {} versions, {} blobs",
            report.tombstones_compacted, report.versions_pruned, report.blobs_collected
        ));
    }

    /// The device's folder is emptied by accident (an unmounted drive): its next sync must
    /// delete nothing, and `--restore-missing` must bring every note back.
    async fn wipe(&mut self, i: usize, d: usize) {
        self.nets[d].on.store(false, Ordering::Relaxed);
        // What is on the disk is on the server first: the accident takes only synced notes.
        let r = self.devices[d].syncer.sync().await;
        self.check_sync(d, "sync before the wipe", r);
        let before = self.devices[d].tree();
        if before.len() < 2 {
            // One note gone from a one-note folder is an ordinary delete, not an accident.
            self.nets[d].on.store(true, Ordering::Relaxed);
            return;
        }
        self.note(format!(
            "{i}: D{d}'s folder is wiped ({} notes)",
            before.len()
        ));
        for path in before.keys() {
            self.devices[d].remove(path);
        }
        let held = self.devices[d]
            .syncer
            .sync()
            .await
            .expect("the sync after a wipe");
        self.note(format!("  sync after the wipe: {}", held.summary()));
        assert!(
            held.deleted_remote.is_empty(),
            "D{d}'s wiped folder deleted {:?} on the server",
            held.deleted_remote
        );
        assert_eq!(
            held.held.len(),
            before.len(),
            "D{d}: held back {:?}",
            held.held
        );
        self.devices[d]
            .syncer
            .set_missing_notes(MissingNotes::Restore);
        let restored = self.devices[d].syncer.sync().await;
        self.devices[d]
            .syncer
            .set_missing_notes(MissingNotes::Guarded);
        let restored = restored.expect("the sync that restores a wiped folder");
        self.note(format!("  sync --restore-missing: {}", restored.summary()));
        let after = self.devices[d].tree();
        let missing: Vec<&String> = before.keys().filter(|p| !after.contains_key(*p)).collect();
        assert!(missing.is_empty(), "D{d}: not restored {missing:?}");
        self.nets[d].on.store(true, Ordering::Relaxed);
    }

    /// The notes held back were deleted on purpose here (a wipe is restored where it
    /// happens): the person confirms, as the message asks.
    async fn confirm_hold(&mut self, d: usize, r: &Result<SyncReport, SyncError>) {
        let Ok(report) = r else { return };
        if report.held.is_empty() {
            return;
        }
        self.note(format!(
            "  D{d} confirms the held deletes: {:?}",
            report.held
        ));
        let syncer = &mut self.devices[d].syncer;
        syncer.set_missing_notes(MissingNotes::DeleteAll);
        let confirmed = syncer.sync().await;
        syncer.set_missing_notes(MissingNotes::Guarded);
        self.check_sync(d, "sync --allow-mass-delete", confirmed);
    }

    /// Faults off; pending syncs finished; everyone syncs until quiet.
    async fn settle(&mut self) {
        for net in &self.nets {
            net.on.store(false, Ordering::Relaxed);
        }
        for d in 0..self.devices.len() {
            if let Some(plan) = self.pending[d].take() {
                let r = self.devices[d].syncer.finish(plan).await;
                self.confirm_hold(d, &r).await;
                self.check_sync(d, "final finish", r);
            }
        }
        for round in 0..3 {
            for d in 0..self.devices.len() {
                let r = self.devices[d].syncer.sync().await;
                self.confirm_hold(d, &r).await;
                match r {
                    Ok(r) => self.note(format!("  quiet round {round} D{d}: {}", r.summary())),
                    Err(e) => panic!("quiet sync on D{d} failed: {e}"),
                }
            }
        }
    }

    async fn check(&mut self) -> Result<(), String> {
        let first = self.devices[0].tree();
        for (d, device) in self.devices.iter().enumerate().skip(1) {
            let other = device.tree();
            if other != first {
                let a: BTreeSet<_> = hashes(&first).into_iter().collect();
                let b: BTreeSet<_> = hashes(&other).into_iter().collect();
                return Err(format!(
                    "D0 and D{d} differ: only on D0 {:?}, only on D{d} {:?}",
                    a.difference(&b).collect::<Vec<_>>(),
                    b.difference(&a).collect::<Vec<_>>()
                ));
            }
        }
        let server = server_files(self.devices[0].syncer.api()).await;
        if server != hashes(&first) {
            return Err(format!(
                "the vaults differ from the server: vault {:?}, server {:?}",
                hashes(&first),
                server
            ));
        }
        let present: BTreeSet<String> = first
            .values()
            .flat_map(|b| lines(&String::from_utf8_lossy(b)))
            .collect();
        let lost: Vec<&String> = self.live.difference(&present).collect();
        if !lost.is_empty() {
            return Err(format!("lost writes: {lost:?}"));
        }
        for (path, seen) in &self.deletes {
            if let Some(bytes) = first.get(path) {
                let now: BTreeSet<String> =
                    lines(&String::from_utf8_lossy(bytes)).into_iter().collect();
                if now.is_subset(seen) {
                    return Err(format!(
                        "{path} was deleted and came back with nothing its deleter had not seen: {now:?}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The server's live notes and the lines of each.
async fn server_lines(api: &Api) -> BTreeMap<String, BTreeSet<String>> {
    let paths: Vec<String> = server_files(api).await.into_keys().collect();
    let mut out = BTreeMap::new();
    if paths.is_empty() {
        return out;
    }
    let answer = api.pull_current(&paths).await.expect("pull");
    for f in answer.files {
        let (bytes, _) = api.fetch_checked(&f).await.expect("download");
        out.insert(
            f.path.to_string(),
            lines(&String::from_utf8_lossy(&bytes))
                .into_iter()
                .collect(),
        );
    }
    out
}

async fn run_seed(seed: u64) -> Result<(), String> {
    let task = tokio::spawn(async move {
        let mut sim = Sim::new(seed).await;
        let log = sim.log.clone();
        let outcome = async {
            for i in 0..OPS_PER_SEED {
                sim.step(i).await;
            }
            sim.settle().await;
            sim.check().await
        };
        let result = outcome.await;
        (result, log)
    });
    match task.await {
        Ok((Ok(()), log)) => {
            if std::env::var_os("STEEL_MODEL_VERBOSE").is_some() {
                eprintln!("--- seed {seed}:\n{}", log.lock().unwrap().join("\n"));
            }
            Ok(())
        }
        Ok((Err(why), log)) => Err(format!(
            "{why}\n--- operations of seed {seed}:\n{}",
            log.lock().unwrap().join("\n")
        )),
        Err(panic) => Err(format!("panicked: {panic}")),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_operations_under_faults_converge_without_losing_writes() {
    let seeds: Vec<u64> = match std::env::var("STEEL_MODEL_SEED") {
        Ok(one) => vec![one.parse().expect("STEEL_MODEL_SEED must be a number")],
        Err(_) => {
            let first = env_u64("STEEL_MODEL_FIRST_SEED", 1);
            (first..first + env_u64("STEEL_MODEL_SEEDS", 12)).collect()
        }
    };
    let jobs = env_u64("STEEL_MODEL_JOBS", 3).max(1) as usize;
    let started = std::time::Instant::now();
    let mut failures: BTreeMap<u64, String> = BTreeMap::new();
    let mut passed = 0;
    for (n, batch) in seeds.chunks(jobs).enumerate() {
        let done = n * jobs;
        if seeds.len() >= 100 && done > 0 && done % 100 < jobs {
            eprintln!(
                "model: {done}/{} seeds run, {} failed, {:.0?}",
                seeds.len(),
                failures.len(),
                started.elapsed()
            );
        }
        let runs: Vec<_> = batch
            .iter()
            .map(|&seed| async move { (seed, run_seed(seed).await) })
            .collect();
        for (seed, result) in futures_join_all(runs).await {
            match result {
                Ok(()) => passed += 1,
                Err(why) => {
                    eprintln!("model seed {seed} FAILED (replay: STEEL_MODEL_SEED={seed}): {why}");
                    failures.insert(seed, why);
                }
            }
        }
    }
    println!(
        "model: {passed}/{} seeds passed in {:.0?}{}",
        seeds.len(),
        started.elapsed(),
        if failures.is_empty() {
            String::new()
        } else {
            format!("; failed seeds: {:?}", failures.keys().collect::<Vec<_>>())
        }
    );
    assert!(
        failures.is_empty(),
        "failed seeds (replay each with STEEL_MODEL_SEED=N): {:?}",
        failures.keys().collect::<Vec<_>>()
    );
}

/// Runs futures side by side and answers their outputs in order.
async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("a seed's task"));
    }
    out
}
