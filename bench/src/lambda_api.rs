//! A minimal Lambda Runtime API on loopback, enough to cold-start a function binary the way
//! the Lambda service does: the binary (started with `AWS_LAMBDA_RUNTIME_API` pointing here)
//! long-polls `GET /2018-06-01/runtime/invocation/next`, gets one event per call, and posts
//! the answer to `/invocation/{id}/response` (or an error). Every such moment is reported
//! with its `Instant`, so the caller can time process start → ready → first answer.
//!
//! Plain HTTP/1.1 over std threads (one per connection): no dependency, and nothing shared
//! with the runtime under test.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function did, when.
#[derive(Debug)]
pub enum Signal {
    /// It asked for the next event; `request_id` is the event it got (`None`: none left, the
    /// call is held open).
    Next {
        at: Instant,
        request_id: Option<String>,
    },
    /// It answered an event.
    Response {
        at: Instant,
        request_id: String,
        body: String,
    },
    /// It reported an init or invocation error.
    Error { path: String, body: String },
}

pub struct RuntimeApi {
    addr: SocketAddr,
    signals: Receiver<Signal>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<VecDeque<(String, String)>>,
    function_name: String,
    signals: Mutex<Sender<Signal>>,
    stop: Arc<AtomicBool>,
}

impl RuntimeApi {
    /// Serves `events` ((request id, event JSON)) in order to whoever polls.
    pub fn start(function_name: &str, events: Vec<(String, String)>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            queue: Mutex::new(events.into()),
            function_name: function_name.to_owned(),
            signals: Mutex::new(tx),
            stop: stop.clone(),
        });
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            signals: rx,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    pub fn recv(&self, timeout: Duration) -> Result<Signal, RecvTimeoutError> {
        self.signals.recv_timeout(timeout)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else {
        body.resize(content_length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Request { method, path, body }))
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &str,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

fn send(shared: &Shared, signal: Signal) {
    if let Ok(tx) = shared.signals.lock() {
        let _ = tx.send(signal);
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let rest = req.path.strip_prefix(PREFIX).unwrap_or("");
        match (req.method.as_str(), rest) {
            ("GET", "/invocation/next") => {
                let next = shared.queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((id, event)) = next else {
                    send(
                        shared,
                        Signal::Next {
                            at: Instant::now(),
                            request_id: None,
                        },
                    );
                    // Hold the poll open, as Lambda does between invocations, until the
                    // function is stopped.
                    while !shared.stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    return Ok(());
                };
                // Reported before the event is written: the answer (perhaps on another
                // connection) can then never be reported before its event.
                send(
                    shared,
                    Signal::Next {
                        at: Instant::now(),
                        request_id: Some(id.clone()),
                    },
                );
                let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
                respond(
                    &mut writer,
                    "200 OK",
                    &[
                        ("lambda-runtime-aws-request-id", id.clone()),
                        ("lambda-runtime-deadline-ms", deadline.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn",
                            format!(
                                "arn:aws:lambda:us-east-1:123456789012:function:{}",
                                shared.function_name
                            ),
                        ),
                        (
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
                        ),
                    ],
                    &event,
                )?;
            }
            ("POST", path) if path.starts_with("/invocation/") && path.ends_with("/response") => {
                let at = Instant::now();
                let id = path
                    .trim_start_matches("/invocation/")
                    .trim_end_matches("/response")
                    .to_owned();
                // Reported before the acknowledgement: the next poll comes after it.
                send(
                    shared,
                    Signal::Response {
                        at,
                        request_id: id,
                        body,
                    },
                );
                respond(&mut writer, "202 Accepted", &[], r#"{"status":"OK"}"#)?;
            }
            ("POST", path) if path.ends_with("/error") => {
                send(
                    shared,
                    Signal::Error {
                        path: req.path.clone(),
                        body,
                    },
                );
                respond(&mut writer, "202 Accepted", &[], r#"{"status":"OK"}"#)?;
            }
            _ => respond(
                &mut writer,
                "404 Not Found",
                &[],
                r#"{"errorType":"NotFound"}"#,
            )?,
        }
    }
    Ok(())
}
