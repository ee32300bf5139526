//! A delaying TCP proxy for part 2's emulated round-trip time: every byte that crosses it
//! arrives `one_way` late in each direction (a delay line: bytes queue with their due time,
//! so the delay adds latency, never a bandwidth limit), so each request/answer exchange
//! costs at least twice `one_way` more, as on a phone's radio. The same relay serves both
//! tools: rclone through a fixed upstream (its S3 endpoint is the proxy; it signs requests
//! for that host, which the proxy passes on unchanged), the reference client as an HTTP
//! proxy (`STEEL_SYNC_PROXY`: its requests name their target in absolute form, and its
//! presigned URLs the real S3 host, which the proxy connects to; the client pools
//! connections per target, so a connection's first request names the target of all). It runs on a thread and runtime of its own: the bench waits for the tools'
//! processes with blocking calls.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Where a connection goes.
#[derive(Debug, Clone, Copy)]
pub enum Upstream {
    /// Always this address.
    Fixed(SocketAddr),
    /// An HTTP proxy: the target named by the connection's first request
    /// (`GET http://127.0.0.1:port/... HTTP/1.1`), loopback only.
    HttpProxy,
}

/// Starts a proxy on a free loopback port; answers its address. It lives as long as the
/// process.
pub fn start(upstream: Upstream, one_way: Duration) -> anyhow::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    std::thread::Builder::new()
        .name("delay-proxy".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("proxy listener");
                while let Ok((inbound, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        if let Err(e) = serve(inbound, upstream, one_way).await {
                            tracing::debug!(error = %e, "delay proxy connection");
                        }
                    });
                }
            });
        })?;
    Ok(addr)
}

async fn serve(
    mut inbound: TcpStream,
    upstream: Upstream,
    one_way: Duration,
) -> anyhow::Result<()> {
    inbound.set_nodelay(true)?;
    let (target, first) = match upstream {
        Upstream::Fixed(addr) => (addr, Vec::new()),
        Upstream::HttpProxy => first_target(&mut inbound).await?,
    };
    let outbound = TcpStream::connect(target)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    outbound.set_nodelay(true)?;
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let up = tokio::spawn(delay_line(first, in_read, out_write, one_way));
    let down = tokio::spawn(delay_line(Vec::new(), out_read, in_write, one_way));
    let _ = tokio::join!(up, down);
    Ok(())
}

/// Copies `first` and then `from` to `to`, each chunk `delay` after it was read; end of
/// input is passed on (as a write shutdown) after the same delay.
async fn delay_line(
    first: Vec<u8>,
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if chunk.is_empty() {
                break;
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    if !first.is_empty() {
        let _ = tx.send((Instant::now() + delay, first));
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).await.unwrap_or(0);
        let due = Instant::now() + delay;
        if tx.send((due, buf[..n].to_vec())).is_err() || n == 0 {
            break;
        }
    }
    drop(tx);
    writer.await?;
    Ok(())
}

/// Reads the connection's first request line (`METHOD http://ip:port/path HTTP/1.1`):
/// its target, and the bytes read so far (passed on as they are: an HTTP/1.1 server takes a
/// request in absolute form).
async fn first_target(stream: &mut TcpStream) -> anyhow::Result<(SocketAddr, Vec<u8>)> {
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    while !read.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || read.len() > 16 * 1024 {
            bail!("no request line");
        }
        read.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&read);
    let target = line
        .split_whitespace()
        .nth(1)
        .and_then(|uri| uri.strip_prefix("http://"))
        .and_then(|rest| rest.split('/').next())
        .with_context(|| {
            format!(
                "not an absolute-form request: {}",
                line.lines().next().unwrap_or("")
            )
        })?;
    let addr: SocketAddr = target
        .replace("localhost", "127.0.0.1")
        .parse()
        .with_context(|| format!("not a loopback ip:port target: {target}"))?;
    anyhow::ensure!(addr.ip().is_loopback(), "only loopback targets: {addr}");
    Ok((addr, read))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn server(answer: &'static str) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(answer))
            .mount(&server)
            .await;
        server
    }

    /// Requests to two servers through one HTTP proxy reach each its own server (the client
    /// pools connections per target), each at least a round trip late.
    #[tokio::test]
    async fn every_request_reaches_its_target_a_round_trip_late() {
        let (a, b) = (server("from a").await, server("from b").await);
        let one_way = Duration::from_millis(25);
        let proxy = start(Upstream::HttpProxy, one_way).expect("proxy");
        let client = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(format!("http://{proxy}")).expect("proxy URL"))
            .build()
            .expect("client");
        for round in 0..3 {
            for (server, expect) in [(&a, "from a"), (&b, "from b")] {
                let started = std::time::Instant::now();
                let got = client
                    .get(format!("{}/x?round={round}", server.uri()))
                    .send()
                    .await
                    .expect("GET")
                    .text()
                    .await
                    .expect("body");
                assert_eq!(got, expect, "round {round}");
                assert!(started.elapsed() >= 2 * one_way, "{:?}", started.elapsed());
            }
        }
        // A fixed upstream passes the bytes on as they are.
        let fixed = start(Upstream::Fixed(*a.address()), one_way).expect("proxy");
        let got = reqwest::get(format!("http://{fixed}/y"))
            .await
            .expect("GET")
            .text()
            .await
            .expect("body");
        assert_eq!(got, "from a");
    }
}
