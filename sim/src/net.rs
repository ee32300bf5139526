//! The network between a device and the API, and the bucket behind the presigned URLs: the
//! client's [`Transport`] answered by the in-memory server, with the world's seeded faults.
//! Per request, at the fault rate: dropped before it is sent (no connection), a 500 from a
//! restarted function, the answer lost after the server committed (a timeout), sent twice,
//! the person editing a note while the request is out, or the client process crashing.
//! Uploads may never arrive (the client saw a 200) or arrive late (after the confirm); a
//! pack may come back with a byte flipped (the client must refuse it whole). An API request
//! may be refused with 429 `rate_limited` before the server sees it (the client waits out
//! `Retry-After` on the runtime's paused clock and sends it again), or, through a whole
//! sync op, every one of them (a storm: the client gives up and the sync fails with it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use steel_core::domain::{ContentHash, DeviceId};
use steel_sync::api::transport::{BoxFuture, Failure, FailureKind, Request, Response, Transport};
use steel_sync::faults::Faults;

use crate::disk::MemDisk;
use crate::world::{Kind, Op, Shared};

/// How often things go wrong.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// A request meets a fault (then one of the kinds in [`SimNet`](crate::net::SimNet)).
    pub net: f64,
    /// An upload never arrives, or arrives late.
    pub upload: f64,
    pub crash_after_write: f64,
    /// A pack's bytes come back damaged from the bucket.
    pub damaged_pack: f64,
    /// An API request is refused with 429 `rate_limited` (nothing done; the client waits
    /// and sends it again).
    pub rate_limited: f64,
    /// A sync op meets an account over its budget for its whole length: every API request
    /// refused, so the client gives up and the sync fails with the 429.
    pub storm: f64,
    /// One seed in this many runs an end-to-end encrypted account (`vault.rs`; 0: none).
    pub encrypted_every: u64,
    /// One seed in this many of those not encrypted from the start turns encrypted along
    /// the way (`migrate.rs`; 0: none).
    pub migrate_every: u64,
    /// On such a seed, a sync op is a run of `steel-sync encrypt` instead (a draw of the
    /// op's own).
    pub migrate: f64,
    /// A restore op is a rewind of the vault or a folder instead (`rewind.rs`; a draw of
    /// the op's own, so the other ops of a seed stay as they were).
    pub rewind: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            net: 0.06,
            upload: 0.04,
            crash_after_write: 0.03,
            damaged_pack: 0.05,
            rate_limited: 0.01,
            storm: 0.01,
            encrypted_every: 3,
            migrate_every: 5,
            migrate: 0.03,
            rewind: 0.4,
        }
    }
}

/// What a device's requests go through.
pub struct SimNet {
    pub shared: Arc<Mutex<Shared>>,
    pub device: usize,
    pub device_id: DeviceId,
    pub disk: Arc<MemDisk>,
    /// Set when the process crashed: nothing more goes out until the restart.
    pub crashed: Arc<AtomicBool>,
}

fn failure(kind: FailureKind, message: &str) -> Failure {
    Failure {
        kind,
        message: format!("{message} (simulated)"),
    }
}

fn answer(status: u16, body: Vec<u8>) -> Response {
    Response {
        status,
        retry_after: None,
        body,
    }
}

/// A fault the world rolled for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetFault {
    None,
    Drop,
    ServerError,
    LoseAnswer,
    Twice,
    EditDuring,
    Crash,
}

impl SimNet {
    fn crash(&self, shared: &mut Shared, at: &str) -> Failure {
        self.crashed.store(true, Ordering::Relaxed);
        self.disk.freeze();
        shared.log(format!("    D{} crashes at {at}", self.device));
        failure(FailureKind::Other, "the process crashed")
    }

    fn handle(&self, shared: &mut Shared, request: &Request) -> Result<Response, Failure> {
        if self.crashed.load(Ordering::Relaxed) {
            return Err(failure(FailureKind::Other, "the process crashed"));
        }
        shared.requests += 1;
        let what = describe(request);
        if request.url.starts_with(crate::world::API_URL)
            && let Some(wait) = shared.roll_rate_limit()
        {
            shared.log(format!(
                "    D{} {what}: 429, Retry-After {wait}",
                self.device
            ));
            return Ok(Response {
                status: 429,
                retry_after: Some(wait.to_string()),
                body: br#"{"error":{"code":"rate_limited","message":"over budget (simulated)"}}"#
                    .to_vec(),
            });
        }
        let fault = shared.roll_net_fault();
        let fault = match fault {
            0 => NetFault::None,
            1 => NetFault::Drop,
            2 => NetFault::ServerError,
            3 => NetFault::LoseAnswer,
            4 => NetFault::Twice,
            5 => NetFault::EditDuring,
            _ => NetFault::Crash,
        };
        if fault != NetFault::None {
            shared.log(format!("    D{} {what}: {fault:?}", self.device));
        }
        match fault {
            NetFault::Crash => return Err(self.crash(shared, &what)),
            NetFault::Drop => return Err(failure(FailureKind::Connect, "connection refused")),
            NetFault::ServerError => return Ok(answer(500, b"{}".to_vec())),
            NetFault::EditDuring => shared.person_edit(self.device, &self.disk),
            _ => {}
        }
        let mut response = self.deliver(shared, request);
        if fault == NetFault::Twice {
            response = self.deliver(shared, request);
        }
        if fault == NetFault::LoseAnswer {
            return Err(failure(FailureKind::Timeout, "no answer in time"));
        }
        Ok(response)
    }

    /// The request reaches the server or the bucket.
    fn deliver(&self, shared: &mut Shared, request: &Request) -> Response {
        shared.server.now = shared.time.now();
        if let Some(key) = request.url.strip_prefix("sim://bucket/") {
            return bucket(shared, self.device, request, key);
        }
        if let Some(id) = request.url.strip_prefix("sim://packs/") {
            let pack = id.parse().ok().and_then(|id| shared.server.packs.get(&id));
            let Some(mut bytes) = pack.map(|p| p.bytes.clone()) else {
                return answer(404, b"NoSuchKey".to_vec());
            };
            if shared.maybe_damage(&mut bytes) {
                shared.log(format!("    D{} GET pack {id}: damaged", self.device));
            }
            return answer(200, bytes);
        }
        let Some(path) = request.url.strip_prefix(crate::world::API_URL) else {
            return answer(404, Vec::new());
        };
        let device = request
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .and_then(|(_, v)| v.strip_prefix("Bearer "))
            .and_then(|t| t.parse().ok())
            .map(DeviceId);
        if device != Some(self.device_id) {
            return answer(
                401,
                br#"{"error":{"code":"invalid_token","message":"?"}}"#.to_vec(),
            );
        }
        let body = request.body.as_deref().unwrap_or_default();
        let if_match = (request.headers.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case("if-match"))
            .map(|(_, v)| v.as_str());
        let a = (shared.server).handle_with(device, request.method.as_str(), path, if_match, body);
        shared.after_request(self.device);
        answer(a.status, a.body)
    }
}

/// The world's seeded draws of faults.
impl Shared {
    /// 0 for no fault, else the kind (see `SimNet`).
    pub fn roll_net_fault(&mut self) -> u8 {
        if !self.faults_on || !self.rng.random_bool(self.rates.net) {
            return 0;
        }
        // Drop, 500, lost answer, twice, edit during, crash.
        [1, 1, 2, 3, 3, 4, 5, 5, 6][self.rng.random_range(0..9)]
    }

    /// Damages `bytes` (one byte flipped) at the damaged-pack rate.
    pub fn maybe_damage(&mut self, bytes: &mut [u8]) -> bool {
        if !self.faults_on || bytes.is_empty() {
            return false;
        }
        if !self.damage_rng.random_bool(self.rates.damaged_pack) {
            return false;
        }
        let at = self.damage_rng.random_range(0..bytes.len());
        bytes[at] ^= 0x20;
        self.damaged += 1;
        true
    }

    /// The op's own draws of damaged packs and 429s (apart from `rng`'s, so adding them left
    /// earlier traces alone), and whether a sync op meets a storm of 429s.
    pub fn seed_op(&mut self, i: usize, op: Op) {
        self.damage_rng = ChaCha8Rng::seed_from_u64(op.seed ^ 0xda3a_9ed0);
        self.limit_rng = ChaCha8Rng::seed_from_u64(op.seed ^ 0x4290);
        let syncing = matches!(
            op.kind,
            Kind::Sync | Kind::Finish | Kind::Begin | Kind::SyncRestoreMissing
        ) || op.kind == Kind::SyncAllowMassDelete;
        let storm = self.rates.storm;
        self.storm = (syncing && self.faults_on && self.limit_rng.random_bool(storm))
            .then(|| self.limit_rng.random_range(0..4));
        if let Some(after) = self.storm {
            self.log(format!(
                "#{i} the account goes over its request budget after {after} requests (429s)"
            ));
        }
    }

    /// A 429's `Retry-After` in seconds, if the request is refused as over the budget: every
    /// request once a storm began, else at the rate-limited rate.
    pub fn roll_rate_limit(&mut self) -> Option<u64> {
        if !self.faults_on {
            return None;
        }
        match self.storm {
            Some(0) => return Some(60),
            Some(n) => self.storm = Some(n - 1),
            None => {}
        }
        let rate = self.rates.rate_limited;
        self.limit_rng
            .random_bool(rate)
            .then(|| self.limit_rng.random_range(1..=30))
    }

    /// 0: arrives; 1: never; 2: late.
    pub fn roll_upload_fault(&mut self) -> u8 {
        if !self.faults_on || !self.rng.random_bool(self.rates.upload) {
            return 0;
        }
        self.rng.random_range(1..=2)
    }
}

/// A presigned PUT or GET of one object.
fn bucket(shared: &mut Shared, device: usize, request: &Request, key: &str) -> Response {
    let Ok(hash) = ContentHash::parse(key) else {
        return answer(404, Vec::new());
    };
    if request.method.as_str() == "GET" {
        return match shared.server.bucket.get(&hash) {
            Some(bytes) => answer(200, bytes.clone()),
            None => answer(404, b"NoSuchKey".to_vec()),
        };
    }
    let bytes = request.body.clone().unwrap_or_default();
    // The signed PUT carries the checksum: other bytes are refused.
    if ContentHash::of(&bytes) != hash {
        return answer(400, b"BadDigest".to_vec());
    }
    match shared.roll_upload_fault() {
        0 => {
            shared.server.bucket.insert(hash, bytes);
        }
        1 => shared.log(format!(
            "    D{device} upload {}: never arrives",
            short(key)
        )),
        _ => {
            shared.log(format!("    D{device} upload {}: arrives late", short(key)));
            shared.late.push((hash, bytes));
        }
    }
    answer(200, Vec::new())
}

fn short(key: &str) -> &str {
    key.get(..8).unwrap_or(key)
}

fn describe(request: &Request) -> String {
    let url = request
        .url
        .strip_prefix(crate::world::API_URL)
        .or_else(|| request.url.strip_prefix("sim://bucket/").map(short))
        .unwrap_or(&request.url);
    let url = url.split('?').next().unwrap_or(url);
    format!("{} {url}", request.method)
}

impl Transport for SimNet {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, Failure>> {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.handle(&mut shared, &request);
        Box::pin(std::future::ready(result))
    }
}

/// The crash between writing a pulled note and recording it (the client's own fault hook).
pub struct SimFaults {
    pub shared: Arc<Mutex<Shared>>,
    pub device: usize,
    pub disk: Arc<MemDisk>,
    pub crashed: Arc<AtomicBool>,
}

impl Faults for SimFaults {
    fn crash_after_write(&self, path: &str) -> bool {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let rate = shared.rates.crash_after_write;
        if !shared.faults_on || !shared.rng.random_bool(rate) {
            return false;
        }
        self.crashed.store(true, Ordering::Relaxed);
        self.disk.freeze();
        shared.log(format!("    D{} crashes after writing {path}", self.device));
        true
    }
}
