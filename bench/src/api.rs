//! Calling the real handlers in-process, as the Lambda runtime does: an API Gateway v2
//! event goes through `steel_core::runtime::handle_event` (body decoding, the handler,
//! error mapping) and the answer comes back as the response event. Also the device's side
//! of a push: the S3 PUTs to the presigned URLs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderValue, Method};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use steel_core::Config;
use steel_core::handlers;
use steel_core::queue::Queue;
use steel_core::runtime::{self, AppState, VaultState, WriteState};

use crate::sqlcount;

/// The vault endpoints the benchmarks exercise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    State,
    Push,
    Confirm,
    Pull,
    Delete,
    Account,
    History,
    Deleted,
    Restore,
}

impl Endpoint {
    pub fn route(self) -> (Method, &'static str) {
        match self {
            Endpoint::State => (Method::GET, "/vault/state"),
            Endpoint::Push => (Method::POST, "/vault/push"),
            Endpoint::Confirm => (Method::POST, "/vault/push/confirm"),
            Endpoint::Pull => (Method::POST, "/vault/pull"),
            Endpoint::Delete => (Method::POST, "/vault/delete"),
            Endpoint::Account => (Method::GET, "/account"),
            Endpoint::History => (Method::GET, "/vault/history"),
            Endpoint::Deleted => (Method::GET, "/vault/deleted"),
            Endpoint::Restore => (Method::POST, "/vault/restore"),
        }
    }

    /// The function crate (and binary) serving it.
    pub fn function(self) -> &'static str {
        match self {
            Endpoint::State => "state",
            Endpoint::Push => "push",
            Endpoint::Confirm => "confirm",
            Endpoint::Pull => "pull",
            Endpoint::Delete => "delete",
            Endpoint::Account => "account",
            Endpoint::History => "history",
            Endpoint::Deleted => "deleted",
            Endpoint::Restore => "restore",
        }
    }
}

/// An answer: status and parsed JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: i64,
    pub body: Value,
    /// The `Retry-After` header, when the answer has one.
    pub retry_after: Option<String>,
}

impl Reply {
    pub fn list(&self, field: &str) -> &[Value] {
        self.body[field].as_array().map_or(&[], Vec::as_slice)
    }

    /// `status` plus the error code, for error tallies.
    pub fn describe(&self) -> String {
        match self.body["error"]["code"].as_str() {
            Some(code) => format!("HTTP {} {code}", self.status),
            None => format!("HTTP {}", self.status),
        }
    }
}

/// One timed request: the answer, the time inside the handler adapter, and the SQL
/// statements counted meanwhile (exact only when nothing else runs at the same time).
#[derive(Debug, Clone)]
pub struct Timed {
    pub reply: Reply,
    pub elapsed: Duration,
    pub statements: u64,
    pub statement_log: Vec<String>,
}

/// An API Gateway v2 event as the HTTP API would send it.
pub fn event(
    endpoint: Endpoint,
    query: &[(&str, String)],
    body: Option<&Value>,
    bearer: &str,
) -> ApiGatewayV2httpRequest {
    let (method, path) = endpoint.route();
    let mut e = ApiGatewayV2httpRequest::default();
    e.version = Some("2.0".into());
    e.raw_path = Some(path.into());
    e.route_key = Some(format!("{method} {path}"));
    e.request_context.http.method = method;
    e.request_context.http.path = Some(path.into());
    e.request_context.request_id = Some(format!("bench-{}", uuid::Uuid::new_v4()));
    if !query.is_empty() {
        e.raw_query_string = Some(
            query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
        );
        let map: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        e.query_string_parameters = map.into();
    }
    if let Some(b) = body {
        e.body = Some(b.to_string());
        e.headers
            .insert("content-type", HeaderValue::from_static("application/json"));
    }
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {bearer}")) {
        e.headers.insert("authorization", value);
    }
    e
}

/// One warm Lambda sandbox of an endpoint's function: the state its `main` builds.
#[derive(Clone)]
pub struct Sandbox {
    endpoint: Endpoint,
    app: AppState,
    vault: Option<VaultState>,
    write: Option<WriteState>,
}

impl Sandbox {
    /// The state `endpoint`'s function builds at cold start from `config`.
    pub async fn of(endpoint: Endpoint, config: Config) -> anyhow::Result<Sandbox> {
        let db = steel_core::db::connect_lazy(&config.database)?;
        let app = AppState::new(config, db);
        let (vault, write) = match endpoint {
            Endpoint::Push | Endpoint::Pull => (Some(VaultState::new(app.clone()).await), None),
            Endpoint::Confirm | Endpoint::Delete | Endpoint::Restore => {
                (None, Some(WriteState::new(app.clone()).await?))
            }
            Endpoint::State | Endpoint::Account | Endpoint::History | Endpoint::Deleted => {
                (None, None)
            }
        };
        Ok(Sandbox {
            endpoint,
            app,
            vault,
            write,
        })
    }

    /// The same sandbox announcing changes on `queue_url`.
    pub fn with_queue(&self, queue_url: &str) -> Sandbox {
        let mut out = self.clone();
        if let Some(write) = &mut out.write {
            write.changes = Queue::new(write.changes.client().clone(), queue_url);
        }
        out
    }
}

/// Runs `event` through the adapter into the sandbox's handler; times only that.
pub async fn call(sandbox: &Sandbox, e: ApiGatewayV2httpRequest) -> Timed {
    let event = LambdaEvent::new(e, Context::default());
    sqlcount::take_log();
    let before = sqlcount::count();
    let started = Instant::now();
    let (app, vault, write) = (&sandbox.app, sandbox.vault.as_ref(), sandbox.write.as_ref());
    let response = match (sandbox.endpoint, vault, write) {
        (Endpoint::State, ..) => runtime::handle_event(app, event, handlers::state::handle).await,
        (Endpoint::Account, ..) => {
            runtime::handle_event(app, event, handlers::account::handle).await
        }
        (Endpoint::History, ..) => {
            runtime::handle_event(app, event, handlers::history::handle).await
        }
        (Endpoint::Deleted, ..) => {
            runtime::handle_event(app, event, handlers::deleted::handle).await
        }
        (Endpoint::Restore, _, Some(w)) => {
            runtime::handle_event(w, event, handlers::restore::handle).await
        }
        (Endpoint::Push, Some(v), _) => {
            runtime::handle_event(v, event, handlers::push::handle).await
        }
        (Endpoint::Pull, Some(v), _) => {
            runtime::handle_event(v, event, handlers::pull::handle).await
        }
        (Endpoint::Confirm, _, Some(w)) => {
            runtime::handle_event(w, event, handlers::confirm::handle).await
        }
        (Endpoint::Delete, _, Some(w)) => {
            runtime::handle_event(w, event, handlers::delete::handle).await
        }
        (endpoint, ..) => unreachable!("Sandbox::of builds the state of {endpoint:?}"),
    };
    let elapsed = started.elapsed();
    let statements = sqlcount::count() - before;
    let statement_log = sqlcount::take_log();
    let retry_after = response
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match response.body {
        Some(Body::Text(t)) => serde_json::from_str(&t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Timed {
        reply: Reply {
            status: response.status_code,
            body,
            retry_after,
        },
        elapsed,
        statements,
        statement_log,
    }
}

/// A file entry of a push, confirm body.
pub fn file_entry(path: &str, base_version: i64, bytes: &[u8]) -> Value {
    json!({
        "path": path,
        "base_version": base_version,
        "content_hash": steel_core::domain::ContentHash::of(bytes).to_hex(),
        "size_bytes": bytes.len(),
    })
}

/// Unique note bytes.
pub fn note_bytes(tag: &str) -> Vec<u8> {
    format!(
        "# {tag}\n\nAn edit made by steel-bench, {}.\n",
        uuid::Uuid::new_v4()
    )
    .into_bytes()
}

/// PUTs `bytes` as an upload entry of a push answer prescribes (URL and signed headers).
pub async fn upload(http: &reqwest::Client, entry: &Value, bytes: Vec<u8>) -> anyhow::Result<()> {
    let url = entry["upload_url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("upload entry without upload_url: {entry}"))?;
    let mut req = http.put(url).body(bytes);
    if let Some(headers) = entry["headers"].as_object() {
        for (k, v) in headers {
            // reqwest sets these itself (the length from the body).
            if k == "host" || k == "content-length" {
                continue;
            }
            req = req.header(k.as_str(), v.as_str().unwrap_or_default());
        }
    }
    let resp = req.send().await?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        anyhow::bail!("PUT {url}: {status} {text}");
    }
    Ok(())
}

/// Uploads every entry that has an `upload_url`, `concurrency` at a time, as a device would.
/// `bytes_of` gives the bytes for a path.
pub async fn upload_all(
    http: &reqwest::Client,
    uploads: &[Value],
    bytes_of: &HashMap<String, Vec<u8>>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let limiter = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for entry in uploads.iter().filter(|u| !u["upload_url"].is_null()) {
        let path = entry["path"].as_str().unwrap_or_default();
        let bytes = bytes_of
            .get(path)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no bytes for {path}"))?;
        let (http, entry, limiter) = (http.clone(), entry.clone(), limiter.clone());
        tasks.spawn(async move {
            let _permit = limiter.acquire_owned().await?;
            upload(&http, &entry, bytes).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}
