//! An HTTP proxy in front of s3s-fs that can answer as a failing S3 does, for the fault
//! suite. Requests are forwarded whole with their `Host` header untouched, so the SigV4
//! signatures s3s-fs checks stay valid; a fault answers in the proxy's stead.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Fault {
    /// Answers with this status (500 InternalError, 503 SlowDown) instead of S3.
    Status(u16),
    /// Forwards after this delay.
    Slow(Duration),
}

#[derive(Default)]
struct Shared {
    /// The fault and how many more requests it meets (`None`: every one).
    fault: Mutex<Option<(S3Fault, Option<usize>)>>,
    /// Requests that met a fault.
    faulted: AtomicUsize,
}

pub struct S3Proxy {
    /// `http://127.0.0.1:PORT`, the endpoint to give the S3 client.
    pub url: String,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl S3Proxy {
    /// Listens on a free loopback port, forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> S3Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared::default());
        let upstream = upstream.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let serving = shared.clone();
        let accept =
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (shared, http, upstream) =
                        (serving.clone(), http.clone(), upstream.clone());
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let (shared, http, upstream) =
                                (shared.clone(), http.clone(), upstream.clone());
                            async move {
                                Ok::<_, Infallible>(serve(req, &shared, &http, &upstream).await)
                            }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
            .abort_handle();
        S3Proxy {
            url: format!("http://{addr}"),
            shared,
            accept,
        }
    }

    /// Injects `fault` into the next `times` requests (`None`: all of them until healed).
    pub fn arm(&self, fault: S3Fault, times: Option<usize>) {
        *self.shared.fault.lock().unwrap() = Some((fault, times));
        self.shared.faulted.store(0, Ordering::SeqCst);
    }

    /// Forwards every request again.
    pub fn heal(&self) {
        *self.shared.fault.lock().unwrap() = None;
    }

    /// Requests that met the fault since it was armed.
    pub fn faulted(&self) -> usize {
        self.shared.faulted.load(Ordering::SeqCst)
    }
}

impl Drop for S3Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The fault this request meets, counting it.
fn take_fault(shared: &Shared) -> Option<S3Fault> {
    let mut armed = shared.fault.lock().unwrap();
    let (fault, times) = (*armed)?;
    match times {
        Some(0) => return None,
        Some(n) => *armed = Some((fault, Some(n - 1))),
        None => {}
    }
    shared.faulted.fetch_add(1, Ordering::SeqCst);
    Some(fault)
}

async fn serve(
    req: Request<Incoming>,
    shared: &Shared,
    http: &reqwest::Client,
    upstream: &str,
) -> Response<Full<Bytes>> {
    match take_fault(shared) {
        Some(S3Fault::Status(status)) => return s3_error(status, req.method() == "HEAD"),
        Some(S3Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return s3_error(400, false);
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forward = http.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let Ok(answer) = forward.body(body).send().await else {
        return s3_error(502, parts.method == "HEAD");
    };
    let mut out = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "transfer-encoding" && name != "connection" {
            out = out.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    out.body(Full::new(bytes)).expect("response")
}

/// An S3 error answer: `InternalError` for 500, `SlowDown` for 503 (a HEAD has no body).
fn s3_error(status: u16, head: bool) -> Response<Full<Bytes>> {
    let code = match status {
        503 => "SlowDown",
        500 => "InternalError",
        _ => "BadGateway",
    };
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <Error><Code>{code}</Code><Message>injected fault</Message></Error>"
        ))
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(body))
        .expect("response")
}
