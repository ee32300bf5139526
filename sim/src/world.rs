//! The simulated world: one user's devices (each the real `steel-sync` engine on an
//! in-memory disk, clock and `sync.db`), the in-memory server and bucket, the seeded network
//! between them, and the people. [`World::step`] carries out one [`Op`]; everything random
//! in it comes from the op's own seed, so a trace with ops left out replays the rest alike.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use steel_core::domain::{ContentHash, DeviceId};
use steel_sync::store::Store;
use steel_sync::sync::Plan;
use steel_sync::sync::guard::MissingNotes;
use steel_sync::vfs::Clock;
use steel_sync::{Api, ScanConfig, Session, SyncError, SyncReport, Syncer};

use crate::disk::{MemDisk, SkewedClock, WorldTime};
use crate::model::{Retention, Server};
pub use crate::net::Rates;
use crate::net::{SimFaults, SimNet};
use crate::person::Book;

/// Where the devices send API requests (never resolved: the transport answers).
pub const API_URL: &str = "http://api.sim";

/// What the devices and the server share, behind one lock (the simulation is one thread).
pub struct Shared {
    pub server: Server,
    pub time: Arc<WorldTime>,
    pub rng: ChaCha8Rng,
    /// Draws for damaged packs, apart, so adding them left other draws (and traces) alone.
    pub damage_rng: ChaCha8Rng,
    /// Packs served damaged so far.
    pub damaged: u64,
    /// Draws for 429s, apart for the same reason.
    pub limit_rng: ChaCha8Rng,
    /// The running op meets an account going over its budget after this many requests.
    pub storm: Option<u32>,
    pub faults_on: bool,
    pub rates: Rates,
    /// Uploads on their way, late.
    pub late: Vec<(ContentHash, Vec<u8>)>,
    pub requests: u64,
    pub book: Book,
    pub oracle: crate::oracle::Watch,
    trace: Vec<String>,
    pub verbose: bool,
    /// Draws for the devices' `Crypt`s and unlocks, apart, so plaintext seeds run as before.
    pub crypt_rng: ChaCha8Rng,
    /// An encrypted seed's vault secrets, as the person keeps them.
    pub vault: Option<crate::vault::Vault>,
    /// A migration seed's (`migrate.rs`): its secrets, whether it switched, each run's end.
    pub migration: Option<crate::vault::Vault>,
    pub migrated: bool,
    pub migration_runs: Vec<crate::migrate::Run>,
}

impl Shared {
    pub fn log(&mut self, line: String) {
        if self.verbose {
            println!("{line}");
        }
        self.trace.push(line);
        if self.trace.len() > 4000 {
            self.trace.drain(..2000);
        }
    }

    pub fn trace_tail(&self, n: usize) -> &[String] {
        &self.trace[self.trace.len().saturating_sub(n)..]
    }

    pub fn person_edit(&mut self, device: usize, disk: &MemDisk) {
        let what = self.book.edit(&mut self.rng, disk);
        self.log(format!("    D{device} person, during the sync, {what}"));
    }

    /// Watches what the request committed.
    pub fn after_request(&mut self, _device: usize) {
        self.note_switch();
        let Shared {
            server,
            book,
            oracle,
            ..
        } = self;
        oracle.observe(server, book);
    }
}

/// One device: its disk, clock, `sync.db` and engine.
pub struct Device {
    pub name: String,
    pub id: DeviceId,
    pub disk: Arc<MemDisk>,
    pub clock: Arc<SkewedClock>,
    pub crashed: Arc<AtomicBool>,
    pub syncer: Option<Syncer>,
    pub pending: Option<Plan>,
    /// The last sync held deletes back.
    pub held: bool,
    /// Notes `sync.db` knew and the disk lacked when the latest plan was made, of how many
    /// known, and how many on disk.
    pub missing_at_plan: (usize, usize, usize),
    /// An encrypted vault's unlocked keys (kept through a restart, as a device's keyring
    /// keeps them) and the name of its shared in-memory `sync.db`.
    pub unlocked: Option<(steel_crypto::VaultKeys, String)>,
    /// A migration seed's device: the name of its shared in-memory `sync.db`.
    pub db: Option<String>,
}

/// One step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Edit,
    Rewrite,
    Rename,
    Delete,
    Wipe,
    Import,
    Sync,
    /// The first half of a sync (its plan), the rest in a later [`Kind::Finish`].
    Begin,
    Finish,
    /// A sync with `--restore-missing`.
    SyncRestoreMissing,
    /// A sync with `--allow-mass-delete`.
    SyncAllowMassDelete,
    /// An older version of a note made its newest (`steel-sync restore`).
    Restore,
    /// The vault or a folder rewound to an earlier moment (`steel-sync rewind`).
    Rewind,
    /// The device signs out for good; a new device joins with an empty folder.
    Replace,
    /// Days pass and the janitor runs (compaction: old cursors answer 410).
    Janitor,
    /// Late uploads arrive.
    Deliver,
    /// `steel-sync encrypt` run, resumed or abandoned (`migrate.rs`).
    Migrate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub kind: Kind,
    pub device: usize,
    pub seed: u64,
}

pub struct World {
    pub seed: u64,
    pub shared: Arc<Mutex<Shared>>,
    pub devices: Vec<Device>,
    pub rt: tokio::runtime::Runtime,
    next_device: u128,
    pub syncs: u64,
    /// Packs served damaged before the running sync: one since makes its refusal expected.
    damaged_before: u64,
}

/// The signed-in session of device `id` (the bearer token names the device).
pub fn session(id: DeviceId, name: &str) -> Session {
    Session {
        api_url: API_URL.to_owned(),
        user_id: uuid::Uuid::from_u128(1).to_string(),
        device_id: Some(id.0.to_string()),
        device_name: name.to_owned(),
        access_token: id.0.to_string(),
        refresh_token: "never used".to_owned(),
        access_expires_at: DateTime::from_timestamp(4_000_000_000, 0).unwrap_or_default(),
    }
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

impl World {
    pub fn new(seed: u64, devices: usize, rates: Rates, verbose: bool) -> World {
        let time = WorldTime::starting_at(start());
        let shared = Shared {
            server: Server::new(time.now()),
            time: time.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            damage_rng: ChaCha8Rng::seed_from_u64(seed ^ 0xda3a_9ed0),
            damaged: 0,
            limit_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x4290),
            storm: None,
            faults_on: true,
            rates,
            late: Vec::new(),
            requests: 0,
            book: Book::default(),
            oracle: crate::oracle::Watch::default(),
            trace: Vec::new(),
            verbose,
            crypt_rng: ChaCha8Rng::seed_from_u64(seed ^ 0xc0de_c0de),
            vault: None,
            migration: None,
            migrated: false,
            migration_runs: Vec::new(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime");
        let mut world = World {
            seed,
            shared: Arc::new(Mutex::new(shared)),
            devices: Vec::new(),
            rt,
            next_device: 1,
            syncs: 0,
            damaged_before: 0,
        };
        if crate::vault::is_encrypted(seed, rates.encrypted_every) {
            world.set_up_vault();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        for i in 0..devices {
            let skew = TimeDelta::seconds(rng.random_range(-300..300));
            let device = world.new_device(i, skew);
            world.devices.push(device);
        }
        world
    }

    pub fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn log(&self, line: String) {
        self.shared().log(line);
    }

    /// The id the next device made gets.
    pub fn first_device_id(&self) -> DeviceId {
        DeviceId(uuid::Uuid::from_u128(self.next_device))
    }

    pub(crate) fn new_device(&mut self, slot: usize, skew: TimeDelta) -> Device {
        let id = DeviceId(uuid::Uuid::from_u128(self.next_device));
        self.next_device += 1;
        let time = self.shared().time.clone();
        let clock = Arc::new(SkewedClock { world: time, skew });
        let name = format!("D{slot}");
        let disk = Arc::new(MemDisk::new(&name, clock.clone()));
        let mut device = Device {
            name,
            id,
            disk,
            clock,
            crashed: Arc::new(AtomicBool::new(false)),
            syncer: None,
            pending: None,
            held: false,
            missing_at_plan: (0, 0, 0),
            unlocked: None,
            db: None,
        };
        device.unlocked = self.unlock(slot, &device);
        let migrating = crate::migrate::is_migrating(self.seed, &self.shared().rates);
        device.db = (device.unlocked.as_ref().map(|(_, n)| n.clone()))
            .or_else(|| migrating.then(crate::vault::store_name));
        let store = crate::vault::open_store(device.db.as_deref());
        device.syncer = Some(self.syncer(slot, &device, store));
        device
    }

    /// The engine of a device, on the `sync.db` it had (a restart after a crash).
    pub(crate) fn syncer(&self, slot: usize, device: &Device, store: Store) -> Syncer {
        let session = session(device.id, &device.name);
        let net = SimNet {
            shared: self.shared.clone(),
            device: slot,
            device_id: device.id,
            disk: device.disk.clone(),
            crashed: device.crashed.clone(),
        };
        let faults = SimFaults {
            shared: self.shared.clone(),
            device: slot,
            disk: device.disk.clone(),
            crashed: device.crashed.clone(),
        };
        let mut api = Api::over(Arc::new(net), session, None).with_faults(Arc::new(faults));
        if let Some((keys, store)) = &device.unlocked {
            let rng_seed = crate::vault::crypt_seed(&mut self.shared().crypt_rng);
            api = api.with_crypt(crate::vault::crypt(keys, store, rng_seed));
        }
        let clock: Arc<dyn Clock> = device.clock.clone();
        let mut syncer = Syncer::with_world(
            api,
            store,
            device.disk.clone(),
            clock,
            &device.name,
            ScanConfig::default(),
        );
        // Even slots fetch every pull through packs, odd ones as shipped (`PACK_THRESHOLD`).
        if slot.is_multiple_of(2) {
            syncer.set_pack_threshold(1);
        }
        // The model server has no `POST /vault/bulk`: simulated devices upload note by
        // note; the model test covers the bulk path.
        syncer.set_bulk_threshold(usize::MAX);
        syncer
    }

    /// A crashed device's process starts again from its `sync.db` and disk.
    pub fn restart_if_crashed(&mut self, d: usize) {
        if !self.devices[d].crashed.load(Ordering::Relaxed) {
            return;
        }
        let Some(old) = self.devices[d].syncer.take() else {
            return;
        };
        let store = old.into_store();
        self.devices[d].pending = None;
        self.devices[d].disk.thaw();
        self.devices[d].crashed.store(false, Ordering::Relaxed);
        let syncer = self.syncer(d, &self.devices[d], store);
        self.devices[d].syncer = Some(syncer);
        self.log(format!("    D{d} restarts from its sync.db"));
    }

    /// Runs a sync (or the rest of a begun one) on device `d`; a fault's error is expected,
    /// anything else is a finding.
    pub fn sync(&mut self, d: usize, missing: MissingNotes) -> Result<Option<SyncReport>, String> {
        self.restart_if_crashed(d);
        self.syncs += 1;
        let damaged = self.shared().damaged;
        self.damaged_before = damaged;
        let pending = self.devices[d].pending.take();
        if pending.is_none() {
            self.devices[d].missing_at_plan = self.missing(d);
        }
        let Some(syncer) = self.devices[d].syncer.as_mut() else {
            return Ok(None);
        };
        syncer.set_missing_notes(missing);
        let result = match pending {
            Some(plan) => self.rt.block_on(syncer.finish(plan)),
            None => self.rt.block_on(syncer.sync()),
        };
        syncer.set_missing_notes(MissingNotes::Guarded);
        self.outcome(d, result)
    }

    pub fn begin(&mut self, d: usize) -> Result<(), String> {
        self.restart_if_crashed(d);
        self.devices[d].missing_at_plan = self.missing(d);
        let Some(syncer) = self.devices[d].syncer.as_mut() else {
            return Ok(());
        };
        match self.rt.block_on(syncer.begin()) {
            Ok(plan) => {
                self.devices[d].pending = Some(plan);
                Ok(())
            }
            Err(e) => self.outcome(d, Err(e)).map(|_| ()),
        }
    }

    /// A sync run with the person's choice answers a hold only if it planned with it: one
    /// finishing a begun sync carries out the begun plan, holds and all (pinned: seed 265).
    fn answered(&mut self, d: usize, report: Option<&SyncReport>) {
        if let Some(r) = report {
            self.devices[d].held = !r.held.is_empty();
        }
    }

    fn outcome(
        &mut self,
        d: usize,
        result: Result<SyncReport, SyncError>,
    ) -> Result<Option<SyncReport>, String> {
        let crashed = self.devices[d].crashed.load(Ordering::Relaxed);
        if result.is_err() && crate::oracle::would_hold(self.devices[d].missing_at_plan) {
            // Its plan may have held them, and the client keeps a hold until answered.
            self.devices[d].held = true;
        }
        match result {
            Ok(r) => {
                self.log(format!("    D{d} sync: {}", crate::run::details(&r)));
                Ok(Some(r))
            }
            Err(e) if self.unlock_if_refused(d, &e) => Ok(None),
            Err(SyncError::Network { .. } | SyncError::Crash(_)) => Ok(None),
            Err(SyncError::Api { status, .. }) if status >= 500 => Ok(None),
            Err(SyncError::Io { .. } | SyncError::Other(_)) if crashed => Ok(None),
            Err(SyncError::Api { status: 429, .. }) if self.shared().storm.is_some() => Ok(None),
            // A damaged pack is refused whole; the next sync asks for a new one.
            Err(SyncError::Integrity { .. }) if self.shared().damaged > self.damaged_before => {
                Ok(None)
            }
            Err(e) => Err(format!("D{d}'s sync failed: {e}")),
        }
    }

    fn person(
        &self,
        i: usize,
        d: usize,
        rng: &mut ChaCha8Rng,
        act: fn(&mut Book, &mut ChaCha8Rng, &MemDisk) -> String,
    ) {
        let disk = self.devices[d].disk.clone();
        let mut shared = self.shared();
        let what = act(&mut shared.book, rng, &disk);
        shared.log(format!("#{i} D{d} {what}"));
    }

    /// Carries out one op.
    pub fn step(&mut self, i: usize, op: Op) -> Result<(), String> {
        let d = op.device % self.devices.len();
        let mut rng = ChaCha8Rng::seed_from_u64(op.seed);
        {
            let mut shared = self.shared();
            shared.rng = ChaCha8Rng::seed_from_u64(op.seed ^ 0x9e37_79b9_7f4a_7c15);
            shared.seed_op(i, op);
            shared
                .time
                .advance(TimeDelta::seconds(rng.random_range(1..90)));
        }
        let rng = &mut rng;
        if matches!(op.kind, Kind::Restore | Kind::Rewind) {
            self.unlock_before(d);
        }
        match op.kind {
            Kind::Create => self.person(i, d, rng, Book::create),
            Kind::Edit => self.person(i, d, rng, Book::edit),
            Kind::Rewrite => self.person(i, d, rng, Book::rewrite),
            Kind::Rename => self.person(i, d, rng, Book::rename),
            Kind::Delete => self.person(i, d, rng, Book::delete),
            Kind::Wipe => self.person(i, d, rng, Book::wipe),
            Kind::Import => self.person(i, d, rng, Book::import),
            Kind::Sync | Kind::Finish => {
                self.log(format!("#{i} D{d} syncs"));
                let report = self.sync(d, MissingNotes::Guarded)?;
                self.check_guard(d, report.as_ref())?;
            }
            Kind::Begin => {
                self.log(format!("#{i} D{d} begins a sync"));
                self.begin(d)?;
            }
            Kind::SyncRestoreMissing => {
                self.log(format!("#{i} D{d} syncs --restore-missing"));
                let report = self.sync(d, MissingNotes::Restore)?;
                self.answered(d, report.as_ref());
            }
            Kind::SyncAllowMassDelete => {
                self.log(format!("#{i} D{d} syncs --allow-mass-delete"));
                let report = self.sync(d, MissingNotes::DeleteAll)?;
                self.answered(d, report.as_ref());
            }
            Kind::Restore => self.restore(i, d, rng)?,
            Kind::Rewind => self.rewind(i, d, rng)?,
            Kind::Migrate => self.migrate(i, d, rng)?,
            Kind::Replace => self.replace(i, d, rng),
            Kind::Janitor => {
                let days = rng.random_range(20..120);
                let mut shared = self.shared();
                shared.time.advance(TimeDelta::days(days));
                shared.server.now = shared.time.now();
                let gone = shared.server.janitor(Retention::default());
                shared.log(format!(
                    "#{i} {days} days pass; the janitor compacts {gone} tombstones"
                ));
            }
            Kind::Deliver => {
                let mut shared = self.shared();
                let late = std::mem::take(&mut shared.late);
                shared.log(format!("#{i} {} late uploads arrive", late.len()));
                shared.server.bucket.extend(late);
            }
        }
        let mut shared = self.shared();
        if shared.verbose {
            // A replay shows the device's folder after each of its ops.
            for (path, bytes) in self.devices[d].disk.files() {
                let tokens: Vec<&str> = crate::person::tokens(&bytes).collect();
                println!("      D{d} has {path:?} {tokens:?}");
            }
        }
        let Shared {
            server,
            book,
            oracle,
            ..
        } = &mut *shared;
        oracle.observe(server, book);
        oracle.failure.clone().map_or(Ok(()), Err)
    }
}
