//! What the client's end-to-end tests share: the API of a running local stack (`make test`
//! starts `cargo lambda watch` and sets `STEEL_API_URL`), signed-in devices on their own
//! temporary vault folders, and views of vaults and of the server's state to compare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dev_token::DevToken;
use steel_crypto::{KdfParams, KdfPolicy, RecoveryCode};
use steel_sync::api::transport::Transport;
use steel_sync::crypt::Crypt;
use steel_sync::faults::Faults;
use steel_sync::scan::{self, ScanConfig};
use steel_sync::store::Store;
use steel_sync::vault_key::{self, Secret, slots};
use steel_sync::{Api, Session, SyncReport, Syncer};

pub fn api_url() -> String {
    std::env::var("STEEL_API_URL").unwrap_or_else(|_| {
        panic!(
            "STEEL_API_URL is not set: these tests run against the local stack; \
             run `make test`, or `scripts/with-dev-stack.sh cargo test -p steel-sync`"
        )
    })
}

/// A user nobody else uses, so tests run side by side on one server.
pub fn unique_user(label: &str) -> String {
    format!("client-{label}-{}-{}", std::process::id(), uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{}", N.fetch_add(1, Ordering::Relaxed))
}

pub async fn sign_in(sub: &str, device_name: &str) -> Session {
    let token = DevToken::apple(sub).mint().unwrap();
    Api::login(&api_url(), "apple", &token, device_name, "macos")
        .await
        .unwrap_or_else(|e| panic!("login as {sub}: {e}"))
}

/// The passphrase of the tests' encrypted accounts.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// Makes the account of `sub` end-to-end encrypted (the cheapest passphrase KDF every reader
/// accepts); answers its recovery code.
pub async fn encrypted_account(sub: &str) -> RecoveryCode {
    let api = Api::new(sign_in(sub, "setup").await, None);
    let params = KdfParams {
        p: 1,
        ..KdfPolicy::DEFAULT.floor
    };
    let new = slots::new_vault(PASSPHRASE, params, &mut vault_key::os_rng().unwrap()).unwrap();
    vault_key::set_up(&api, &new).await.unwrap();
    new.code
}

/// One device: a vault folder of its own and a signed-in client.
pub struct Device {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub syncer: Syncer,
}

impl Device {
    pub async fn new(sub: &str, name: &str) -> Self {
        Self::with_faults(sub, name, None).await
    }

    pub async fn with_faults(sub: &str, name: &str, faults: Option<Arc<dyn Faults>>) -> Self {
        Self::opened(sub, name, faults, None).await
    }

    /// A device of `sub` that opens the account's vault with `secret` when given one (an
    /// end-to-end encrypted account: [`encrypted_account`]).
    pub async fn opened(
        sub: &str,
        name: &str,
        faults: Option<Arc<dyn Faults>>,
        secret: Option<Secret<'_>>,
    ) -> Self {
        Self::opened_over(sub, name, None, faults, secret).await
    }

    /// [`Device::opened`], its requests sent through `transport` when given one (a test's
    /// recorder around the real network).
    pub async fn opened_over(
        sub: &str,
        name: &str,
        transport: Option<Arc<dyn Transport>>,
        faults: Option<Arc<dyn Faults>>,
        secret: Option<Secret<'_>>,
    ) -> Self {
        let session = sign_in(sub, name).await;
        let dir = tempfile::tempdir().unwrap();
        session.save(dir.path()).unwrap();
        let vault = Some(dir.path().to_path_buf());
        let mut api = match transport {
            Some(t) => Api::over(t, session.clone(), vault),
            None => Api::new(session.clone(), vault),
        };
        if let Some(secret) = secret {
            let keys = vault_key::unlock(&Api::new(session, None), &secret)
                .await
                .unwrap_or_else(|e| panic!("{name} unlocks: {e}"))
                .keys;
            let crypt = Crypt::new(keys, Some(Store::open(dir.path()).unwrap())).unwrap();
            api = api.with_crypt(Arc::new(crypt));
        }
        if let Some(f) = faults {
            api = api.with_faults(f);
        }
        let syncer = Syncer::open(dir.path(), api, name, ScanConfig::default()).unwrap();
        Device {
            name: name.to_owned(),
            dir,
            syncer,
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path(rel)).ok()
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    pub async fn sync(&mut self) -> SyncReport {
        let name = self.name.clone();
        self.syncer
            .sync()
            .await
            .unwrap_or_else(|e| panic!("sync on {name}: {e}"))
    }

    /// The vault's notes: NFC path → bytes.
    pub fn tree(&self) -> BTreeMap<String, Vec<u8>> {
        tree(self.root())
    }
}

pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let found = scan::scan(root, &ScanConfig::default()).unwrap();
    found
        .files
        .into_iter()
        .map(|(key, f)| (key, std::fs::read(root.join(&f.rel)).unwrap()))
        .collect()
}

/// The server's live files: path → content hash, from a full listing.
pub async fn server_files(api: &Api) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = api.state(cursor.as_deref(), 5000).await.unwrap();
        for f in page.files {
            if f.is_deleted {
                out.remove(f.path.as_str());
            } else {
                out.insert(f.path.to_string(), f.content_hash.to_hex());
            }
        }
        cursor = Some(page.cursor);
        if !page.has_more {
            return out;
        }
    }
}

pub fn hashes(tree: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    tree.iter()
        .map(|(p, b)| (p.clone(), scan::hash_bytes(b)))
        .collect()
}

/// What a sync that had nothing to do reports.
pub fn quiet_summary() -> String {
    steel_sync::SyncReport::default().summary()
}

async fn sqs() -> (aws_sdk_sqs::Client, String) {
    let queue = std::env::var("SQS_QUEUE_URL").expect("SQS_QUEUE_URL (set by the services)");
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    (aws_sdk_sqs::Client::new(&config), queue)
}

/// Empties the change queue of the local stack (nothing else consumes it under `make dev`),
/// so a test finds its own notice quickly.
pub async fn purge_notices() {
    let (sqs, queue) = sqs().await;
    sqs.purge_queue().queue_url(&queue).send().await.unwrap();
}

/// Change notices for `user_id` on the change queue of the local stack (`SQS_QUEUE_URL`),
/// waiting up to `wait` for the first.
pub async fn notices_for(user_id: &str, wait: std::time::Duration) -> Vec<serde_json::Value> {
    let (sqs, queue) = sqs().await;
    let deadline = std::time::Instant::now() + wait;
    let mut found = Vec::new();
    while found.is_empty() && std::time::Instant::now() < deadline {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in received.messages() {
            let body: serde_json::Value =
                serde_json::from_str(m.body().unwrap_or("null")).unwrap_or_default();
            if body["user_id"] == user_id {
                found.push(body);
            }
            // Nothing else consumes this queue locally (no notifier runs under make dev):
            // other tests' notices are dropped so the queue stays short.
            if let Some(handle) = m.receipt_handle() {
                let _ = sqs
                    .delete_message()
                    .queue_url(&queue)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
    }
    found
}

/// One janitor run against the local stack's database and bucket, `days_later` days ahead;
/// `retention_days` replaces both retentions (history and tombstones) when given. It acts on
/// every user of the stack: the retention tests expect what it does to other users' vaults
/// to be harmless (it only forgets what a retention allows).
pub async fn run_janitor(
    retention_days: Option<i64>,
    days_later: i64,
) -> steel_core::janitor::Report {
    use steel_core::runtime::{AppState, JanitorState};
    let mut config = stack_config();
    if let Some(days) = retention_days {
        config.lifecycle.history_retention = chrono::TimeDelta::days(days);
        config.lifecycle.tombstone_retention = chrono::TimeDelta::days(days);
    }
    let db = steel_core::db::connect_lazy(&config.database).expect("pool");
    let mut janitor = JanitorState::new(AppState::new(config, db)).await;
    // The bucket sweep is not under test here: it lists one empty prefix.
    janitor.sweep_prefix = Some("janitor-test-none/".into());
    let report = steel_core::janitor::run(
        &janitor,
        chrono::Utc::now() + chrono::TimeDelta::days(days_later),
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("janitor run");
    janitor.app.db.close().await;
    report
}

/// The local stack's own settings (services.env); nothing here signs a token.
fn stack_config() -> steel_core::config::Config {
    steel_core::config::Config::from_lookup(|name| match name {
        "JWT_SECRET" => Some("janitor-test-secret-not-used-0123456789".into()),
        _ => std::env::var(name).ok(),
    })
    .expect("the local stack's settings (DATABASE_URL, S3_*)")
}

/// Puts `bytes` under the blob key of `hash` in `user_id`'s vault, behind the backend's back.
pub async fn corrupt_blob(user_id: &str, hash: &str, bytes: &[u8]) {
    let config = stack_config();
    let bucket = config.s3.bucket.clone();
    let db = steel_core::db::connect_lazy(&config.database).expect("pool");
    let app = steel_core::runtime::AppState::new(config, db);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::Client::from_conf(app.s3_config(&sdk).build());
    s3.put_object()
        .bucket(bucket)
        .key(format!("{user_id}/blobs/{hash}"))
        .body(bytes.to_vec().into())
        .send()
        .await
        .expect("overwrite the blob");
}
