//! Runtime configuration, read once per cold start from the environment.
//!
//! Every variable is parsed and validated here, so a Lambda with a missing or malformed
//! setting fails its cold start with a message naming the variable instead of failing
//! later on some request.

use std::fmt;
use std::time::Duration;

use crate::budget::{Budgets, Limit};

/// Everything a function may need. Settings only some functions use are `Option`s; the
/// function asks for them at cold start through the `require_*` methods.
#[derive(Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub s3: S3Config,
    pub sqs_queue_url: Option<String>,
    /// Queue of pending account purges (delete-account feeds and consumes it).
    pub purge_queue_url: Option<String>,
    pub tokens: TokenConfig,
    pub apple_team_id: Option<String>,
    /// Audiences accepted for Sign in with Apple (bundle id, services id...). Empty: disabled.
    pub apple_client_ids: Vec<String>,
    /// Audiences accepted for Google identity tokens. Empty: disabled.
    pub google_client_ids: Vec<String>,
    pub apple_jwks_url: String,
    pub google_jwks_url: String,
    pub limits: Limits,
    /// Per-account request budgets (`REQUEST_BUDGETS`, `<READ|WRITE|DOWNLOAD>_BUDGET_BURST`,
    /// `..._PER_MINUTE`); `None` with `REQUEST_BUDGETS=false`: no limit.
    pub budgets: Option<Budgets>,
    pub lifecycle: Lifecycle,
    pub apns: ApnsSettings,
    pub fcm: FcmSettings,
    /// The longest one S3 or SQS call may take, the SDK's retries included: a slow service
    /// becomes a 503 the client retries (or, for a change notice, a logged miss) well before
    /// the function's own timeout cuts the answer off.
    pub aws_call_timeout: Duration,
}

/// APNs settings, used by the notifier only (see [`Config::require_apns`]).
#[derive(Clone, Debug)]
pub struct ApnsSettings {
    /// The `.p8` signing key (PEM).
    pub key: Option<Secret>,
    pub key_id: Option<String>,
    /// The app's bundle id.
    pub topic: Option<String>,
    pub production_url: String,
    pub sandbox_url: String,
}

/// Firebase Cloud Messaging settings, used by the notifier only (see `notifier::fcm`).
#[derive(Clone, Debug)]
pub struct FcmSettings {
    /// The service-account key, the JSON file Firebase hands out (`FCM_SERVICE_ACCOUNT`).
    pub service_account: Option<Secret>,
    /// The Firebase project (`FCM_PROJECT_ID`; default: the key's `project_id`).
    pub project_id: Option<String>,
    /// `https://fcm.googleapis.com`, or a stand-in (`FCM_URL`).
    pub url: String,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    /// How long the server lets a transaction sit idle before it aborts it and frees its
    /// locks: longer than any function's timeout, so only a sandbox that died or froze
    /// mid-transaction (its socket still open) ever meets it.
    pub idle_in_transaction_timeout: Duration,
    /// `DATABASE_PREPARED_STATEMENTS` (default true): named, cached server-side statements
    /// and the timeouts above as startup options. False through a transaction-pooling proxy
    /// (RDS Proxy, PgBouncer `pool_mode = transaction`): unnamed statements, every statement
    /// in a transaction, no startup options (the role's defaults apply); see `db::persistent`.
    pub prepared_statements: bool,
}

#[derive(Clone, Debug)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Path-style addressing, for local S3 emulators that have no per-bucket host names.
    pub force_path_style: bool,
}

#[derive(Clone)]
pub struct TokenConfig {
    pub jwt_secret: Secret,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body the HTTP adapter accepts (after base64 decoding).
    pub max_body_bytes: usize,
    pub max_file_bytes: u64,
    pub vault_quota_bytes: u64,
    /// Bytes of upload URLs a user may hold that no confirm has recorded, within the orphan
    /// age plus a URL's life (`UNCONFIRMED_UPLOAD_BYTES`, default 1 GiB, at least
    /// `MAX_FILE_BYTES`): what bounds the unconfirmed part of the user's bucket.
    pub unconfirmed_upload_bytes: u64,
    /// When deletes are held as a likely accident (`MASS_DELETE_MIN_FILES`,
    /// `MASS_DELETE_FRACTION`).
    pub mass_delete: MassDeletePolicy,
}

/// What the janitor keeps, and for how long.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    /// A verified blob that nothing uses is collected once it is older than this
    /// (`BLOB_GRACE_HOURS`, default 24, 1..=720): far longer than an upload URL's life plus
    /// the time between a push and its confirm.
    pub blob_grace: chrono::TimeDelta,
    /// An object in the bucket that no confirm recorded is deleted once it is older than
    /// this (`ORPHAN_UPLOAD_HOURS`, default 24, 1..=48).
    pub orphan_age: chrono::TimeDelta,
    /// A version older than this leaves the history (`HISTORY_RETENTION_DAYS`, default 365,
    /// 1..=36500), except a note's current version and a kept tombstone's last content.
    pub history_retention: chrono::TimeDelta,
    /// A tombstone older than this is compacted away with its history
    /// (`TOMBSTONE_RETENTION_DAYS`, default 90, 1..=36500): the deleted note can no longer be
    /// restored, and a device whose cursor predates it gets 410 `resync_required`.
    pub tombstone_retention: chrono::TimeDelta,
}

/// A secret value that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("DatabaseConfig")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("prepared_statements", &self.prepared_statements)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub const DEFAULT_APPLE_JWKS_URL: &str = "https://appleid.apple.com/auth/keys";
pub const DEFAULT_GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
pub const DEFAULT_APNS_PRODUCTION_URL: &str = "https://api.push.apple.com";
pub const DEFAULT_APNS_SANDBOX_URL: &str = "https://api.sandbox.push.apple.com";
pub const DEFAULT_FCM_URL: &str = "https://fcm.googleapis.com";
const MIB: u64 = 1024 * 1024;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let database = DatabaseConfig {
            url: env.required("DATABASE_URL").and_then(|url| {
                if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                    Ok(url)
                } else {
                    Err(invalid("DATABASE_URL", "must be a postgres:// URL"))
                }
            })?,
            max_connections: env
                .parse_or("DATABASE_MAX_CONNECTIONS", 2u32, |n| (1..=100).contains(n))?,
            acquire_timeout: Duration::from_millis(env.parse_or(
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                5_000u64,
                |n| (1..=60_000).contains(n),
            )?),
            statement_timeout: Duration::from_millis(env.parse_or(
                "DATABASE_STATEMENT_TIMEOUT_MS",
                10_000u64,
                |n| (1..=600_000).contains(n),
            )?),
            idle_in_transaction_timeout: Duration::from_millis(env.parse_or(
                "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
                15_000u64,
                |n| (100..=3_600_000).contains(n),
            )?),
            prepared_statements: env.parse_or("DATABASE_PREPARED_STATEMENTS", true, |_| true)?,
        };
        let s3 = S3Config {
            bucket: env.required("S3_BUCKET").and_then(|b| {
                if is_valid_bucket_name(&b) {
                    Ok(b)
                } else {
                    Err(invalid("S3_BUCKET", "not a valid S3 bucket name"))
                }
            })?,
            region: env.required("S3_REGION")?,
            force_path_style: env.parse_or("S3_FORCE_PATH_STYLE", false, |_| true)?,
        };
        let jwt_secret = env.required("JWT_SECRET")?;
        if jwt_secret.len() < 32 {
            return Err(invalid("JWT_SECRET", "must be at least 32 bytes long"));
        }
        let tokens = TokenConfig {
            jwt_secret: Secret(jwt_secret),
            issuer: env
                .optional("JWT_ISSUER")?
                .unwrap_or_else(|| "steel-notes-sync".into()),
            audience: env
                .optional("JWT_AUDIENCE")?
                .unwrap_or_else(|| "steel-notes-api".into()),
            access_ttl: Duration::from_secs(env.parse_or(
                "ACCESS_TOKEN_TTL_SECS",
                3_600u64,
                |n| (60..=86_400).contains(n),
            )?),
            refresh_ttl: Duration::from_secs(
                86_400
                    * env.parse_or("REFRESH_TOKEN_TTL_DAYS", 30u64, |n| (1..=365).contains(n))?,
            ),
        };
        let limits = Limits {
            max_body_bytes: env.parse_or("MAX_BODY_BYTES", 2 * MIB as usize, |n| {
                (1024..=6 * MIB as usize).contains(n)
            })?,
            max_file_bytes: env.parse_or("MAX_FILE_BYTES", 50 * MIB, |n| *n >= 1)?,
            vault_quota_bytes: env.parse_or("VAULT_QUOTA_BYTES", 5 * 1024 * MIB, |n| *n >= 1)?,
            unconfirmed_upload_bytes: env.parse_or(
                "UNCONFIRMED_UPLOAD_BYTES",
                1024 * MIB,
                |n| *n >= 1 && i64::try_from(*n).is_ok(),
            )?,
            mass_delete: MassDeletePolicy {
                min_files: env.parse_or("MASS_DELETE_MIN_FILES", 50u64, |n| *n >= 1)?,
                // A share of the notes, 0 < f <= 1, kept as parts per million so the
                // check itself is integer arithmetic.
                fraction_ppm: (env
                    .parse_or("MASS_DELETE_FRACTION", 0.25f64, |f| *f > 0.0 && *f <= 1.0)?
                    * 1_000_000.0)
                    .round() as u32,
            },
        };
        if limits.unconfirmed_upload_bytes < limits.max_file_bytes {
            return Err(invalid(
                "UNCONFIRMED_UPLOAD_BYTES",
                "must be at least MAX_FILE_BYTES (or no file of the largest size could be uploaded)",
            ));
        }
        let budgets = if env.parse_or("REQUEST_BUDGETS", true, |_| true)? {
            let default = Budgets::DEFAULT;
            Some(Budgets {
                read: env.budget(
                    "READ_BUDGET_BURST",
                    "READ_BUDGET_PER_MINUTE",
                    default.read,
                    1,
                )?,
                write: env.budget(
                    "WRITE_BUDGET_BURST",
                    "WRITE_BUDGET_PER_MINUTE",
                    default.write,
                    1,
                )?,
                // A pull of the most files a request may name must fit a full bucket.
                download: env.budget(
                    "DOWNLOAD_BUDGET_BURST",
                    "DOWNLOAD_BUDGET_PER_MINUTE",
                    default.download,
                    steel_protocol::wire::MAX_FILES_PER_REQUEST as u32,
                )?,
            })
        } else {
            None
        };
        let lifecycle = Lifecycle {
            blob_grace: chrono::TimeDelta::hours(
                env.parse_or("BLOB_GRACE_HOURS", 24i64, |n| (1..=720).contains(n))?,
            ),
            orphan_age: chrono::TimeDelta::hours(env.parse_or(
                "ORPHAN_UPLOAD_HOURS",
                24i64,
                |n| (1..=48).contains(n),
            )?),
            history_retention: chrono::TimeDelta::days(env.parse_or(
                "HISTORY_RETENTION_DAYS",
                365i64,
                |n| (1..=36500).contains(n),
            )?),
            tombstone_retention: chrono::TimeDelta::days(env.parse_or(
                "TOMBSTONE_RETENTION_DAYS",
                90i64,
                |n| (1..=36500).contains(n),
            )?),
        };
        Ok(Config {
            database,
            s3,
            sqs_queue_url: env.optional("SQS_QUEUE_URL")?,
            purge_queue_url: env.optional("PURGE_QUEUE_URL")?,
            tokens,
            apple_team_id: env.optional("APPLE_TEAM_ID")?,
            apple_client_ids: env.list("APPLE_CLIENT_ID")?,
            google_client_ids: env.list("GOOGLE_CLIENT_IDS")?,
            apple_jwks_url: env.url_or("APPLE_JWKS_URL", DEFAULT_APPLE_JWKS_URL)?,
            google_jwks_url: env.url_or("GOOGLE_JWKS_URL", DEFAULT_GOOGLE_JWKS_URL)?,
            limits,
            budgets,
            lifecycle,
            apns: ApnsSettings {
                // Secrets and environment variables often carry the PEM with literal "\n".
                key: env
                    .optional("APNS_KEY")?
                    .map(|k| Secret(k.replace("\\n", "\n"))),
                key_id: env.optional("APNS_KEY_ID")?,
                topic: env.optional("APNS_TOPIC")?,
                production_url: env.url_or("APNS_PRODUCTION_URL", DEFAULT_APNS_PRODUCTION_URL)?,
                sandbox_url: env.url_or("APNS_SANDBOX_URL", DEFAULT_APNS_SANDBOX_URL)?,
            },
            fcm: FcmSettings {
                service_account: env.optional("FCM_SERVICE_ACCOUNT")?.map(Secret),
                project_id: env.optional("FCM_PROJECT_ID")?,
                url: env.url_or("FCM_URL", DEFAULT_FCM_URL)?,
            },
            aws_call_timeout: Duration::from_millis(env.parse_or(
                "AWS_CALL_TIMEOUT_MS",
                4_000u64,
                |n| (100..=60_000).contains(n),
            )?),
        })
    }

    /// The queue `confirm` and `delete` announce changes on.
    pub fn require_purge_queue_url(&self) -> Result<&str, ConfigError> {
        self.purge_queue_url
            .as_deref()
            .ok_or(ConfigError::Missing("PURGE_QUEUE_URL"))
    }

    pub fn require_sqs_queue_url(&self) -> Result<&str, ConfigError> {
        self.sqs_queue_url
            .as_deref()
            .ok_or(ConfigError::Missing("SQS_QUEUE_URL"))
    }

    /// Everything APNs token authentication needs, or the first missing variable.
    pub fn require_apns(&self) -> Result<ApnsCredentials, ConfigError> {
        let key = self
            .apns
            .key
            .clone()
            .ok_or(ConfigError::Missing("APNS_KEY"))?;
        if !key.expose().contains("-----BEGIN PRIVATE KEY-----") {
            return Err(invalid(
                "APNS_KEY",
                "must be the .p8 key (PEM, BEGIN PRIVATE KEY)",
            ));
        }
        Ok(ApnsCredentials {
            key,
            key_id: self
                .apns
                .key_id
                .clone()
                .ok_or(ConfigError::Missing("APNS_KEY_ID"))?,
            team_id: self
                .apple_team_id
                .clone()
                .ok_or(ConfigError::Missing("APPLE_TEAM_ID"))?,
            topic: self
                .apns
                .topic
                .clone()
                .ok_or(ConfigError::Missing("APNS_TOPIC"))?,
            production_url: self.apns.production_url.trim_end_matches('/').to_owned(),
            sandbox_url: self.apns.sandbox_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// What the notifier needs to talk to APNs.
#[derive(Clone, Debug)]
pub struct ApnsCredentials {
    pub key: Secret,
    pub key_id: String,
    pub team_id: String,
    pub topic: String,
    pub production_url: String,
    pub sandbox_url: String,
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// S3's rules for bucket names (3-63 chars, lowercase letters, digits, dots, hyphens).
fn is_valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

/// When a run of deletes is held for the user to confirm: more than `min_files` tombstones
/// within the last hour **and** more than `fraction_ppm` (parts per million) of the notes
/// that were live before them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MassDeletePolicy {
    pub min_files: u64,
    pub fraction_ppm: u32,
}

/// Keys per bucket listing page of the janitor's sweep (tests use smaller pages).
pub const SWEEP_PAGE: i32 = 1000;
/// Versions the janitor looks at per history statement (tests use smaller batches).
pub const HISTORY_BATCH: i64 = 1000;

#[path = "config_env.rs"]
mod env;
use env::Env;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
