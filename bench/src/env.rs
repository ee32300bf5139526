//! The benchmark's world: a database of its own (created fresh on the local Postgres,
//! migrated, dropped at the end), a change queue of its own on the local SQS, the vault
//! bucket of the local S3, and app states built like a Lambda sandbox builds them.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use steel_core::Config;
use steel_core::domain::{DeviceId, Platform, Provider, PushEnvironment, UserId};
use steel_core::runtime::{AppState, VaultState};

use crate::api::{Endpoint, Sandbox};

/// Settings passed through from `scripts/services.sh` to the app and to spawned functions.
const PASSED_THROUGH: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SQS",
    "S3_FORCE_PATH_STYLE",
    "S3_BUCKET",
    "S3_REGION",
];

/// A database named like this is ours; leftovers of an interrupted run are dropped after
/// this long.
const DB_PREFIX: &str = "steel_bench_";
const STALE_AFTER_SECS: u64 = 2 * 3600;

pub struct BenchEnv {
    admin_url: String,
    pub db_name: String,
    pub db_url: String,
    /// For seeding and checks: no statement timeout, a few connections.
    pub admin: PgPool,
    pub queue_url: String,
    jwt_secret: String,
    pub http: reqwest::Client,
    sqs: aws_sdk_sqs::Client,
    users: Mutex<Vec<UserId>>,
    /// Queues of this run still to delete.
    queues: Mutex<Vec<String>>,
    /// Where the functions connect when not straight to `db_url` (part 8: PgBouncer), and
    /// settings they get on top of the defaults.
    function_url: Option<String>,
    extra_env: Vec<(String, String)>,
}

/// A device of a user with a bearer token bound to it.
#[derive(Clone, Debug)]
pub struct Device {
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub token: String,
}

fn required(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| {
        anyhow::anyhow!(
            "{name} is not set: run through scripts/bench.sh (or `. .tools/run/services.env`)"
        )
    })
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL is not a URL"))?;
    let host_and_path = &base[scheme_end..];
    let host = host_and_path.split('/').next().unwrap_or_default();
    let mut out = format!("{}{host}/{name}", &base[..scheme_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

impl BenchEnv {
    /// Creates the database (migrated), the queue and the HTTP client.
    pub async fn create() -> anyhow::Result<Self> {
        Self::create_at(required("DATABASE_URL")?).await
    }

    /// As [`BenchEnv::create`], on the server `admin_url` names (as a superuser).
    pub async fn create_at(admin_url: String) -> anyhow::Result<Self> {
        for name in ["S3_BUCKET", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS"] {
            required(name)?;
        }
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url} (are the services up?)"))?;
        let leftovers = drop_stale_databases(&mut admin).await?;
        let now = chrono::Utc::now().timestamp();
        // Part 8 makes more than one environment in a run.
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let db_name = format!("{DB_PREFIX}{now}_{}_{n}", std::process::id());
        sqlx::query(&format!("CREATE DATABASE \"{db_name}\""))
            .execute(&mut admin)
            .await
            .context("CREATE DATABASE")?;
        admin.close().await.ok();
        let db_url = with_database(&admin_url, &db_name)?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(PgConnectOptions::from_str(&db_url)?.application_name("steel-bench"))
            .await
            .with_context(|| format!("connecting to {db_url}"))?;
        steel_core::db::migrate(&pool)
            .await
            .context("applying the migrations")?;

        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        if leftovers > 0 {
            // The queues of the interrupted run.
            let old = sqs
                .list_queues()
                .queue_name_prefix("steel-bench-")
                .send()
                .await
                .context("listing queues on the local SQS")?;
            for url in old.queue_urls() {
                sqs.delete_queue().queue_url(url).send().await.ok();
            }
        }
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("steel-bench-{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .context("creating the bench queue on the local SQS")?
            .queue_url
            .ok_or_else(|| anyhow::anyhow!("no queue url"))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(BenchEnv {
            admin_url,
            db_name,
            db_url,
            admin: pool,
            queue_url,
            // A fresh key per run: tokens of this run are worthless anywhere else.
            jwt_secret: format!("bench-{}-{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
            http,
            sqs,
            users: Mutex::new(Vec::new()),
            queues: Mutex::new(Vec::new()),
            function_url: None,
            extra_env: Vec::new(),
        })
    }

    /// The functions of this environment connect to `url` (the bench database, reached
    /// another way) with `extra` settings.
    pub fn functions_through(&mut self, url: String, extra: &[(&str, &str)]) {
        self.function_url = Some(url);
        self.extra_env = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    /// A new, empty change queue. The local SQS (moto) slows down as a queue fills (each
    /// SendMessage costs time in proportion to the messages waiting, tens of ms with a few
    /// thousand), which real SQS does not; and nothing consumes the notices here. So a
    /// request that queues a notice gets an empty queue of its own.
    /// The SQS client of the run (the bench's own moto).
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        self.sqs.clone()
    }

    pub async fn new_queue(&self) -> anyhow::Result<String> {
        let url = self
            .sqs
            .create_queue()
            .queue_name(format!("steel-bench-{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .context("creating a queue on the local SQS")?
            .queue_url
            .ok_or_else(|| anyhow::anyhow!("no queue url"))?;
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(url.clone());
        Ok(url)
    }

    /// Deletes a queue of [`BenchEnv::new_queue`].
    pub async fn drop_queue(&self, url: &str) -> anyhow::Result<()> {
        self.sqs.delete_queue().queue_url(url).send().await?;
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|q| q != url);
        Ok(())
    }

    /// `function_env` with notices going to `queue_url`.
    pub fn function_env_with_queue(&self, queue_url: &str) -> Vec<(String, String)> {
        let mut vars = self.function_env();
        for (k, v) in &mut vars {
            if k == "SQS_QUEUE_URL" {
                *v = queue_url.to_owned();
            }
        }
        vars
    }

    /// `endpoint`'s sandbox as its function builds it, with a pool of at most `connections`.
    pub async fn sandbox_with_pool(
        &self,
        endpoint: Endpoint,
        connections: u32,
    ) -> anyhow::Result<Sandbox> {
        let mut config = self.config()?;
        config.database.max_connections = connections;
        Sandbox::of(endpoint, config).await
    }

    /// Connections the functions' pools (application name `steel-notes-sync`) hold open
    /// to the bench database.
    pub async fn function_connections(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'steel-notes-sync'",
        )
        .bind(&self.db_name)
        .fetch_one(&self.admin)
        .await?)
    }

    /// Connections the server still admits: `max_connections` minus the reserved ones
    /// minus those open now (anyone's).
    pub async fn connection_headroom(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT current_setting('max_connections')::INT
                  - current_setting('superuser_reserved_connections')::INT
                  - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
        )
        .fetch_one(&self.admin)
        .await?)
    }

    /// The settings a function of this bench runs with: the environment's services, the
    /// bench's database, queue and token key, and the function's own defaults (a pool of
    /// at most 2 connections, as deployed).
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = PASSED_THROUGH
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
            .collect();
        let url = self.function_url.as_ref().unwrap_or(&self.db_url);
        out.push(("DATABASE_URL".into(), url.clone()));
        out.push(("SQS_QUEUE_URL".into(), self.queue_url.clone()));
        out.push(("JWT_SECRET".into(), self.jwt_secret.clone()));
        out.extend(self.extra_env.iter().cloned());
        // The per-account request budgets are part 9's subject; the other parts measure the
        // data path (part 4 sends 2,000 writes of one account in seconds), so off for them.
        if !out.iter().any(|(k, _)| k == "REQUEST_BUDGETS") {
            out.push(("REQUEST_BUDGETS".into(), "false".into()));
        }
        out
    }

    pub fn config(&self) -> anyhow::Result<Config> {
        let vars = self.function_env();
        Ok(Config::from_lookup(|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })?)
    }

    /// `endpoint`'s sandbox as its function builds it: its own lazy pool and clients.
    pub async fn sandbox(&self, endpoint: Endpoint) -> anyhow::Result<Sandbox> {
        Sandbox::of(endpoint, self.config()?).await
    }

    /// A new user (remembered for the S3 clean-up) with one device.
    pub async fn new_user(&self, sub: &str) -> anyhow::Result<Device> {
        let user =
            steel_core::db::users::find_or_create_user(&self.admin, Provider::Apple, sub, None)
                .await?;
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(user.id);
        self.new_device(user.id, "bench Mac").await
    }

    pub async fn new_device(&self, user_id: UserId, name: &str) -> anyhow::Result<Device> {
        let device = steel_core::db::devices::register_device(
            &self.admin,
            user_id,
            &steel_core::db::DeviceUpdate {
                device_name: name.into(),
                platform: Platform::Macos,
                push_token: None,
                push_environment: PushEnvironment::Production,
            },
        )
        .await?;
        let issuer = steel_core::auth::TokenIssuer::new(&self.config()?.tokens);
        Ok(Device {
            user_id,
            device_id: device.id,
            token: issuer.issue_access(user_id, Some(device.id))?,
        })
    }

    /// The user's change counter (the head cursor).
    pub async fn head(&self, user_id: UserId) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT change_seq FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_one(&self.admin)
                .await?,
        )
    }

    /// Removes what the run left: the objects of its users, its queue, its database.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        let users = std::mem::take(&mut *self.users.lock().unwrap_or_else(|e| e.into_inner()));
        let mut problems = Vec::new();
        match self.config() {
            Ok(config) => {
                let db = steel_core::db::connect_lazy(&config.database)?;
                let storage = VaultState::new(AppState::new(config, db)).await.storage;
                for user in users {
                    if let Err(e) = storage.purge_user(user, 1000, 10_000).await {
                        problems.push(format!("S3 purge of {user}: {e:#}"));
                    }
                }
            }
            Err(e) => problems.push(format!("S3 client: {e:#}")),
        }
        let mut queues =
            std::mem::take(&mut *self.queues.lock().unwrap_or_else(|e| e.into_inner()));
        queues.push(self.queue_url.clone());
        for queue in queues {
            if let Err(e) = self.sqs.delete_queue().queue_url(&queue).send().await {
                problems.push(format!("deleting the queue {queue}: {e}"));
            }
        }
        self.admin.close().await;
        if std::env::var_os("BENCH_KEEP_DB").is_some() {
            eprintln!(
                "[bench] BENCH_KEEP_DB: database {} kept (drop it when done)",
                self.db_name
            );
            return Ok(());
        }
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.db_name
        ))
        .execute(&mut admin)
        .await
        .context("DROP DATABASE")?;
        admin.close().await.ok();
        if !problems.is_empty() {
            bail!("clean-up: {}", problems.join("; "));
        }
        Ok(())
    }
}

/// Drops bench databases an interrupted run left behind: nobody connected to them, or older
/// than two hours.
async fn drop_stale_databases(admin: &mut PgConnection) -> anyhow::Result<usize> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT d.datname, (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)
         FROM pg_database d WHERE d.datname LIKE 'steel\\_bench\\_%'",
    )
    .fetch_all(&mut *admin)
    .await?;
    let now = chrono::Utc::now().timestamp();
    let mut dropped = 0;
    for (name, connections) in rows {
        let stamp: Option<i64> = name
            .strip_prefix(DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|s| s.parse().ok());
        if connections == 0 || stamp.is_some_and(|t| now - t > STALE_AFTER_SECS as i64) {
            eprintln!("[bench] dropping leftover database {name}");
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut *admin)
                .await?;
            dropped += 1;
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "b").unwrap(),
            "postgres://u@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h:1/b?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:1", "b").unwrap(),
            "postgres://u@h:1/b"
        );
    }
}
