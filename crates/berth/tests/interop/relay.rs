//! A recording TCP relay between a client library and the server: it forwards every byte
//! both ways and keeps the request line of each request it passes, so a test can tell which
//! requests the library made (for example, whether it fell back to another endpoint).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The relay, listening on its own loopback port; stops accepting when dropped.
pub struct Relay {
    /// `127.0.0.1:<port>`, to name as the registry in image references.
    pub host: String,
    lines: Arc<Mutex<Vec<String>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    /// Starts relaying to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay binds");
        let host = listener.local_addr().expect("relay address").to_string();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.expect("relay connects");
                tokio::spawn(relay(client, server, seen.clone()));
            }
        });
        Relay {
            host,
            lines,
            accept,
        }
    }

    /// The request lines seen so far (`GET /v2/... HTTP/1.1`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.lines.lock().expect("relay lines").clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, lines: Arc<Mutex<Vec<String>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match client_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        record_requests(&mut pending, &lines);
        if server_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = server_write.shutdown().await;
    let _ = down.await;
}

/// Takes every complete request (head, then a `Content-Length` body if any) off the front of
/// `pending` and records its request line. Chunked request bodies are not expected here.
fn record_requests(pending: &mut Vec<u8>, lines: &Mutex<Vec<String>>) {
    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0);
        if pending.len() < end + 4 + length {
            return;
        }
        let line = head.lines().next().unwrap_or_default().to_owned();
        lines.lock().expect("relay lines").push(line);
        pending.drain(..end + 4 + length);
    }
}
