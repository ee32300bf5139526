//! The one door the client's HTTP goes through: a request out, its status, `Retry-After`
//! and body back. The real client sends with reqwest ([`Reqwest`]); the deterministic
//! simulation (`steel-sim`) answers from its in-memory server and bucket, with its network's
//! faults. Everything above it (tokens, retries, rate limits, decoding) is the same code.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use reqwest::Method;

/// One HTTP request, whole.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    /// Header names and values, the bearer token among them.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The longest to wait for the answer (`None`: the transport's own limit).
    pub timeout: Option<Duration>,
}

/// One HTTP answer, whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The `Retry-After` header, as sent.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer in time: the request may have been handled.
    Timeout,
    /// No connection was made.
    Connect,
    /// The request could not be sent whole.
    Request,
    /// The answer's body broke off.
    Body,
    Other,
}

/// A request that got no answer.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    /// The error and its causes, worded for the person.
    pub message: String,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends requests: reqwest in the client, the simulated network in `steel-sim`.
pub trait Transport: Send + Sync {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, Failure>>;
}

/// The real network, through one pooled reqwest client.
#[derive(Debug, Clone)]
pub struct Reqwest(pub reqwest::Client);

impl Transport for Reqwest {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, Failure>> {
        Box::pin(async move {
            let mut builder = self.0.request(request.method, &request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = request.body {
                builder = builder.body(body);
            }
            if let Some(timeout) = request.timeout {
                builder = builder.timeout(timeout);
            }
            let response = builder.send().await.map_err(failure)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.bytes().await.map_err(|e| Failure {
                kind: FailureKind::Body,
                message: describe(&e),
            })?;
            Ok(Response {
                status,
                retry_after,
                body: body.to_vec(),
            })
        })
    }
}

fn failure(e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        FailureKind::Timeout
    } else if e.is_connect() {
        FailureKind::Connect
    } else if e.is_request() {
        FailureKind::Request
    } else {
        FailureKind::Other
    };
    Failure {
        kind,
        message: describe(&e),
    }
}

/// reqwest's own words ("error sending request") say little: the causes say why.
fn describe(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}
