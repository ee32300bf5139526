//! The client's HTTP side: the JSON API (with the bearer token, refreshed when it runs out)
//! and the presigned S3 transfers. Every request goes through the [`Faults`] hook and is
//! counted in [`TransferStats`], then out through a [`Transport`] (reqwest, or the
//! simulation's network). The request and answer bodies are in [`wire`].

mod account;
mod answer;
mod keys;
mod limited;
mod migration;
mod recovery;
mod sealed;
mod sealed_bulk;
mod sealed_downloads;
mod sealed_recovery;
mod sealed_state;
mod sealed_write;
pub mod transport;
mod vault;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, SyncError};
use crate::faults::{Fault, Faults, NoFaults, Op};
use crate::session::{Session, TokenAnswer};
use answer::{decode, decode_counted, error_of, injected, network, retry_after_of};
pub use transport::{Failure, FailureKind, Request, Reqwest, Response, Transport};

pub use limited::{RATE_LIMIT_MAX_WAIT, RATE_LIMIT_RETRIES, rate_limit_wait};
pub use steel_protocol::wire::{
    BulkAnswer, BulkBlob, ConfirmAnswer, Conflict, DeleteAnswer, DeleteEntry, DeleteRequest,
    Download, FileEntry, FilesRequest, MAX_BLOBS_PER_BULK_PACK, MAX_BULK_PACK_BYTES,
    MAX_HASHES_PER_PACKS_REQUEST, Missing, Pack, PackedBlob, PacksAnswer, PacksRequest, Presign,
    PullAnswer, PullRequest, PushAnswer, Rejected, StateAnswer, StateFile, Upload, VersionRef,
    Versioned,
};
use steel_protocol::wire::{DeviceInput, LoginRequest, RefreshRequest};

/// Most files one push, confirm, pull or delete may name (the server's limit).
pub const BATCH: usize = 1000;

/// Requests and bytes on the wire (bodies only), for progress and benchmarks.
#[derive(Debug, Default)]
pub struct TransferStats {
    pub api_requests: AtomicU64,
    pub s3_requests: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Requests the server refused as over the account's request budget (429
    /// `rate_limited`) and that were sent again after waiting.
    pub rate_limited: AtomicU64,
    /// Milliseconds spent waiting those out.
    pub rate_limited_ms: AtomicU64,
}

impl TransferStats {
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.api_requests.load(Ordering::Relaxed),
            self.s3_requests.load(Ordering::Relaxed),
            self.bytes_sent.load(Ordering::Relaxed),
            self.bytes_received.load(Ordering::Relaxed),
        )
    }

    /// Requests refused as rate limited and sent again, and the time spent waiting them out.
    pub fn rate_limited(&self) -> (u64, Duration) {
        (
            self.rate_limited.load(Ordering::Relaxed),
            Duration::from_millis(self.rate_limited_ms.load(Ordering::Relaxed)),
        )
    }
}

/// Told every refreshed session before it is used (the apps keep tokens in the platform's
/// keychain, not in `auth.json`); an error fails the request that needed the refresh.
pub type SessionSink = Arc<dyn Fn(&Session) -> Result<()> + Send + Sync>;

/// One signed-in vault's connection to the API.
pub struct Api {
    transport: Arc<dyn Transport>,
    device_id: Option<String>,
    session: tokio::sync::Mutex<Session>,
    /// Where refreshed tokens are written back; `None` keeps them in memory only.
    vault: Option<PathBuf>,
    faults: Arc<dyn Faults>,
    pub stats: Arc<TransferStats>,
    sink: Option<SessionSink>,
    /// The unlocked vault of an encrypted account: the sync calls go through it.
    crypt: Option<Arc<crate::crypt::Crypt>>,
}

/// The longest the client waits for an API answer: a little over API Gateway's 30 s limit
/// on any request. (Presigned S3 transfers of up to 50 MiB get the client's 120 s.)
const API_TIMEOUT: Duration = Duration::from_secs(35);

/// `STEEL_SYNC_PROXY`, when set (`http://host:port`), sends every request (API and S3)
/// through that HTTP proxy: a network that needs one, or the benchmarks' delaying proxy (an
/// emulated round-trip time). An unusable value is ignored.
pub fn http_client() -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(32);
    if let Some(proxy) = std::env::var("STEEL_SYNC_PROXY")
        .ok()
        .and_then(|url| reqwest::Proxy::all(url).ok())
    {
        builder = builder.proxy(proxy);
    }
    builder.build().unwrap_or_default()
}

impl Api {
    /// Writes what an encrypted vault's device learnt of its notes' plaintext hashes to
    /// `sync.db` (see `crate::crypt`), before the engine records notes that rely on it.
    pub fn flush_learned(&self) -> Result<()> {
        self.crypt.as_ref().map_or(Ok(()), |c| c.flush())
    }

    /// For a process about to exit: an encrypted vault's maps of every note are left to the
    /// operating system (see [`Crypt::leak_caches`]).
    ///
    /// [`Crypt::leak_caches`]: crate::crypt::Crypt::leak_caches
    pub fn leak_caches_at_exit(&self) {
        if let Some(c) = &self.crypt {
            c.leak_caches();
        }
    }

    /// True when this client syncs an end-to-end encrypted vault (it holds the vault key).
    pub fn encrypted(&self) -> bool {
        self.crypt.is_some()
    }

    pub fn new(session: Session, vault: Option<PathBuf>) -> Self {
        Self::over(Arc::new(Reqwest(http_client())), session, vault)
    }

    /// An API client that sends through `transport` (the simulation's network) and builds
    /// no HTTP client of its own.
    pub fn over(transport: Arc<dyn Transport>, session: Session, vault: Option<PathBuf>) -> Self {
        Api {
            transport,
            device_id: session.device_id.clone(),
            session: tokio::sync::Mutex::new(session),
            vault,
            faults: Arc::new(NoFaults),
            stats: Arc::new(TransferStats::default()),
            sink: None,
            crypt: None,
        }
    }

    /// Refreshed sessions go to `sink` too (see [`SessionSink`]).
    pub fn with_session_sink(mut self, sink: SessionSink) -> Self {
        self.sink = Some(sink);
        self
    }

    pub fn with_faults(mut self, faults: Arc<dyn Faults>) -> Self {
        self.faults = faults;
        self
    }

    /// This device, as the server names it in `updated_by`.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    pub fn faults(&self) -> &dyn Faults {
        self.faults.as_ref()
    }

    pub async fn session(&self) -> Session {
        self.session.lock().await.clone()
    }

    /// Signs in with an identity token (Sign in with Apple or Google; `make dev` mints
    /// Apple-style ones) and registers this device.
    pub async fn login(
        api_url: &str,
        provider: &str,
        identity_token: &str,
        device_name: &str,
        platform: &str,
    ) -> Result<Session> {
        let url = format!("{}/auth/login", api_url.trim_end_matches('/'));
        let parse = |what: &str, value: &str| {
            SyncError::Other(format!("{what} {value:?}: {}", "not one the API knows"))
        };
        let body = LoginRequest {
            provider: provider.parse().map_err(|_| parse("provider", provider))?,
            identity_token: identity_token.to_owned(),
            nonce: None,
            device: Some(DeviceInput {
                device_name: device_name.to_owned(),
                platform: platform.parse().map_err(|_| parse("platform", platform))?,
                push_token: None,
                push_environment: None,
            }),
        };
        let response = Reqwest(http_client())
            .send(json_request(Method::POST, url, None, &body))
            .await
            .map_err(|e| network(Op::Login, e))?;
        let answer: TokenAnswer = decode(Op::Login, response)?;
        Ok(Session::from_answer(api_url, device_name, answer))
    }

    async fn refresh(&self, session: &mut Session) -> Result<()> {
        let url = format!("{}/auth/refresh", session.api_url);
        let body = RefreshRequest {
            refresh_token: session.refresh_token.clone(),
        };
        let response = self
            .transport
            .send(json_request(Method::POST, url, None, &body))
            .await
            .map_err(|e| network(Op::Refresh, e))?;
        self.stats.api_requests.fetch_add(1, Ordering::Relaxed);
        let answer: TokenAnswer = match decode(Op::Refresh, response) {
            Ok(a) => a,
            Err(SyncError::Api { status: 401, .. }) => {
                return Err(SyncError::Auth(
                    "the refresh token was refused (signed out, or used elsewhere)".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        session.update(answer);
        if let Some(vault) = &self.vault {
            session.save(vault)?;
        }
        if let Some(sink) = &self.sink {
            sink(session)?;
        }
        Ok(())
    }

    /// A bearer token that is good for at least a minute.
    async fn token(&self, force_refresh: bool) -> Result<(String, String)> {
        let mut session = self.session.lock().await;
        if force_refresh || session.access_expiring() {
            self.refresh(&mut session).await?;
        }
        Ok((session.api_url.clone(), session.access_token.clone()))
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        op: Op,
        method: Method,
        path_and_query: &str,
        body: Option<&B>,
    ) -> Result<T> {
        self.call_with(op, method, path_and_query, body, &[]).await
    }

    /// [`Self::call`] with request headers of its own (`If-Match`).
    async fn call_with<T: DeserializeOwned, B: Serialize>(
        &self,
        op: Op,
        method: Method,
        path_and_query: &str,
        body: Option<&B>,
        extra: &[(&str, &str)],
    ) -> Result<T> {
        let body_bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let mut refreshed = false;
        let mut server_errors = 0;
        let mut rate_limited = 0;
        loop {
            let (base, token) = self.token(refreshed).await?;
            let url = format!("{base}{path_and_query}");
            let build = || {
                let mut headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
                for (name, value) in extra {
                    headers.push(((*name).to_owned(), (*value).to_owned()));
                }
                if body_bytes.is_some() {
                    headers.push(("content-type".to_owned(), "application/json".to_owned()));
                }
                Request {
                    method: method.clone(),
                    url: url.clone(),
                    headers,
                    body: body_bytes.clone(),
                    // An API answer comes within API Gateway's 30 s or never.
                    timeout: Some(API_TIMEOUT),
                }
            };
            let sent = body_bytes.as_ref().map_or(0, Vec::len) as u64;
            let response = self.send(op, sent, build, false).await?;
            let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                continue;
            }
            // A function restarted or overloaded: every request here is safe to repeat.
            if status.is_server_error() && server_errors < 2 {
                server_errors += 1;
                tokio::time::sleep(Duration::from_millis(500 * server_errors)).await;
                continue;
            }
            // Over the account's request budget: nothing was done; wait and send it again.
            if status == StatusCode::TOO_MANY_REQUESTS && rate_limited < RATE_LIMIT_RETRIES {
                let retry_after = retry_after_of(&response);
                self.stats
                    .bytes_received
                    .fetch_add(response.body.len() as u64, Ordering::Relaxed);
                let (code, message) = error_of(&response.body);
                if code != "rate_limited" {
                    return Err(SyncError::Api {
                        op: op.name(),
                        status: status.as_u16(),
                        code,
                        message,
                        retry_after,
                    });
                }
                rate_limited += 1;
                let wait = rate_limit_wait(retry_after, rate_limited);
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .rate_limited_ms
                    .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
                tokio::time::sleep(wait).await;
                continue;
            }
            return decode_counted(op, response, &self.stats);
        }
    }

    /// Sends one request through the fault hook.
    async fn send(
        &self,
        op: Op,
        sent_bytes: u64,
        build: impl Fn() -> Request,
        s3: bool,
    ) -> Result<Response> {
        let counter = if s3 {
            &self.stats.s3_requests
        } else {
            &self.stats.api_requests
        };
        // Every request the client makes is safe to repeat (versions are checked, uploads
        // are content-addressed), so a connection that failed under it is retried a couple
        // of times: a pooled connection the server had just closed, say.
        let once = || async {
            let mut attempt = 0;
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .bytes_sent
                    .fetch_add(sent_bytes, Ordering::Relaxed);
                // An API answer comes within API Gateway's 30 s or never: one that did not is
                // asked for again (a request lost on the way, or in a stuck function).
                match self.transport.send(build()).await {
                    Err(e)
                        if attempt < 2
                            && ((!s3 && e.kind == FailureKind::Timeout)
                                || matches!(
                                    e.kind,
                                    FailureKind::Connect | FailureKind::Request
                                )) =>
                    {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(150 * attempt)).await;
                    }
                    other => return other.map_err(|e| network(op, e)),
                }
            }
        };
        match self.faults.on_request(op) {
            Fault::None | Fault::Pretend => once().await,
            Fault::DropRequest => Err(injected(op, "request dropped before it was sent")),
            Fault::LoseResponse => {
                // The whole answer is read, so the server has finished with it.
                let _ = once().await;
                Err(injected(op, "response lost after the server handled it"))
            }
            Fault::Duplicate => {
                let _ = once().await;
                once().await
            }
        }
    }

    /// PUTs bytes to a presigned URL with exactly the headers it was signed with.
    pub async fn upload(&self, upload: &Upload, bytes: Vec<u8>) -> Result<()> {
        let Some(url) = &upload.upload_url else {
            return Ok(());
        };
        if self.faults.on_request(Op::Upload) == Fault::Pretend {
            return Ok(());
        }
        let bytes = match &self.crypt {
            Some(c) => c.ciphertext(upload.path.as_str()).ok_or_else(|| {
                SyncError::Other(format!("{}: uploaded without being pushed", upload.path))
            })?,
            None => bytes,
        };
        self.put(url, upload.headers.iter().flatten(), bytes).await
    }

    /// PUTs bytes to a presigned URL with exactly the `headers` it was signed with.
    pub(crate) async fn put<'a>(
        &self,
        url: &str,
        headers: impl Iterator<Item = (&'a String, &'a String)>,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let headers: Vec<(String, String)> = headers
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let len = bytes.len() as u64;
        let build = || Request {
            method: Method::PUT,
            url: url.to_owned(),
            // reqwest sets host and content-length itself, from the URL and the body.
            headers: headers.clone(),
            body: Some(bytes.clone()),
            timeout: None,
        };
        let response = self.send(Op::Upload, len, build, true).await?;
        if !(200..300).contains(&response.status) {
            return Err(SyncError::Api {
                op: "upload",
                status: response.status,
                code: "s3_error".into(),
                message: String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(300)
                    .collect(),
                retry_after: None,
            });
        }
        Ok(())
    }

    pub async fn download(&self, url: &str) -> Result<Vec<u8>> {
        let get = || Request {
            method: Method::GET,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            timeout: None,
        };
        let response = self.send(Op::Download, 0, get, true).await?;
        let (status, bytes) = (response.status, response.body);
        if !(200..300).contains(&status) {
            return Err(SyncError::Api {
                op: "download",
                status,
                code: "s3_error".into(),
                message: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                retry_after: None,
            });
        }
        self.stats
            .bytes_received
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }
}

/// A JSON request without a token (sign-in and refresh).
fn json_request(
    method: Method,
    url: String,
    timeout: Option<Duration>,
    body: &impl Serialize,
) -> Request {
    Request {
        method,
        url,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: Some(serde_json::to_vec(body).unwrap_or_default()),
        timeout,
    }
}
