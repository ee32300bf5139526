//! A loopback TCP proxy in front of Postgres that can break the connection at a chosen
//! statement, for the fault suite. It reads the frontend protocol just far enough to know
//! where one statement ends (a simple `Query`, or the `Sync` that closes an extended-protocol
//! Parse/Bind/Execute group) and counts those steps across all connections since it was armed.
//!
//! Faults at step n:
//! - [`PgFault::CutBefore`]: the step never reaches the server; both sockets close.
//! - [`PgFault::AnswerLost`]: the step reaches the server and runs (a `COMMIT` commits); its
//!   answer is dropped and both sockets close, as when the network dies after the commit.
//! - [`PgFault::Hang`]: the step is held forever and the sockets stay open, as when the
//!   Lambda sandbox is frozen or killed mid-transaction and the server is not told.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgFault {
    CutBefore,
    AnswerLost,
    Hang,
}

#[derive(Default)]
struct Shared {
    /// Statements seen since the last [`PgProxy::arm`].
    steps: AtomicUsize,
    /// (step, fault) to inject, if armed.
    fault: Mutex<Option<(usize, PgFault)>>,
    /// Every live connection's tasks, so [`PgProxy::cut_all`] can end them.
    tasks: Mutex<Vec<AbortHandle>>,
    /// Set once a fault fired.
    fired: AtomicBool,
}

pub struct PgProxy {
    pub port: u16,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl PgProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub async fn start(upstream: (String, u16)) -> PgProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                connect(client, server, accepting.clone());
            }
        })
        .abort_handle();
        PgProxy {
            port,
            shared,
            accept,
        }
    }

    /// Starts counting steps from zero, injecting `fault` at its step (none: count only).
    pub fn arm(&self, fault: Option<(usize, PgFault)>) {
        *self.shared.fault.lock().unwrap() = fault;
        self.shared.fired.store(false, Ordering::SeqCst);
        self.shared.steps.store(0, Ordering::SeqCst);
    }

    /// Statements that reached the proxy since [`PgProxy::arm`].
    pub fn steps(&self) -> usize {
        self.shared.steps.load(Ordering::SeqCst)
    }

    /// Whether the armed fault was injected.
    pub fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// Closes every connection through the proxy (both ends), as a dead sandbox's sockets
    /// eventually are; new connections still work.
    pub fn cut_all(&self) {
        for task in self.shared.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
    }
}

fn connect(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    // Set when the answer to the step just forwarded must be dropped with the connection.
    let drop_answer = Arc::new(AtomicBool::new(false));
    let dropping = drop_answer.clone();
    let upstream = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut group = Vec::new();
            let mut startup = true;
            loop {
                let Some(message) = read_message(&mut client_rx, startup).await else {
                    return;
                };
                if std::mem::take(&mut startup) {
                    if server_tx.write_all(&message).await.is_err() {
                        return;
                    }
                    continue;
                }
                let kind = message[0];
                group.extend_from_slice(&message);
                // Query and Sync end a step; Flush, Terminate and passwords are passed on as
                // they come (a client that flushes waits for the answer before it syncs).
                match kind {
                    b'Q' | b'S' => {}
                    b'H' | b'X' | b'p' => {
                        if server_tx.write_all(&group).await.is_err() {
                            return;
                        }
                        group.clear();
                        continue;
                    }
                    _ => continue,
                }
                let step = shared.steps.fetch_add(1, Ordering::SeqCst) + 1;
                let fault = match *shared.fault.lock().unwrap() {
                    Some((at, fault)) if at == step => Some(fault),
                    _ => None,
                };
                if let Some(fault) = fault {
                    shared.fired.store(true, Ordering::SeqCst);
                    match fault {
                        PgFault::CutBefore => return,
                        PgFault::Hang => std::future::pending::<()>().await,
                        PgFault::AnswerLost => dropping.store(true, Ordering::SeqCst),
                    }
                }
                if server_tx.write_all(&group).await.is_err() {
                    return;
                }
                group.clear();
            }
        })
    };
    let downstream = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if drop_answer.load(Ordering::SeqCst) {
                return;
            }
            if client_tx.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    });
    // One side ending (a cut, or either peer closing) ends the other, closing both sockets.
    let (up, down) = (upstream.abort_handle(), downstream.abort_handle());
    let watcher = tokio::spawn(async move {
        let mut upstream = upstream;
        let mut downstream = downstream;
        tokio::select! {
            _ = &mut upstream => downstream.abort(),
            _ = &mut downstream => upstream.abort(),
        }
        // Give an aborted task a moment to drop its half before the other half is dropped.
        tokio::time::sleep(Duration::from_millis(1)).await;
    });
    shared
        .tasks
        .lock()
        .unwrap()
        .extend([up, down, watcher.abort_handle()]);
}

/// One frontend message, whole: the untyped startup packet first, typed messages after.
async fn read_message(rx: &mut (impl AsyncReadExt + Unpin), startup: bool) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    if !startup {
        message.push(rx.read_u8().await.ok()?);
    }
    let len = rx.read_u32().await.ok()?;
    let body = usize::try_from(len).ok()?.checked_sub(4)?;
    message.extend_from_slice(&len.to_be_bytes());
    let start = message.len();
    message.resize(start + body, 0);
    rx.read_exact(&mut message[start..]).await.ok()?;
    Some(message)
}
