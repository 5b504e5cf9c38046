//! The webhook receiver of the observability group: a plain HTTP server on loopback, on a
//! thread and runtime of its own in the bench's process, that answers every notification with
//! 204 and counts requests and events per path, so that Berth observed pays for signing and
//! delivering each event as it would in production.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::routing::post;
use axum::Router;

/// Requests and events received on one path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    pub requests: u64,
    pub events: u64,
}

/// What arrived: a tally per path, and when the last notification came.
struct Book {
    tallies: HashMap<String, Tally>,
    last_arrival: Instant,
}

/// A running receiver: where it listens, and what it has accepted per path.
pub struct Receiver {
    pub address: SocketAddr,
    book: Arc<Mutex<Book>>,
}

/// How long no notification may arrive before the deliveries count as caught up: longer than
/// the bench's `batch_wait` (100 ms), so a batch being gathered is waited for.
const QUIET: Duration = Duration::from_millis(300);

/// The longest `settle` waits, so a dispatcher that never stops cannot hang the bench.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

impl Receiver {
    /// Binds 127.0.0.1 on a free port and serves until the bench exits. It runs on its own
    /// thread, so that answering notifications never delays the bench's client requests on
    /// the main runtime.
    pub fn start() -> anyhow::Result<Receiver> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let book = Arc::new(Mutex::new(Book {
            tallies: HashMap::new(),
            last_arrival: Instant::now(),
        }));
        let ledger = book.clone();
        let app = Router::new().route(
            "/{*path}",
            post(move |uri: Uri, body: Bytes| {
                // A batch is a JSON array of events; a single event is an object.
                let events = match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(serde_json::Value::Array(batch)) => batch.len() as u64,
                    _ => 1,
                };
                let mut book = ledger.lock().unwrap();
                book.last_arrival = Instant::now();
                let tally = book.tallies.entry(uri.path().to_owned()).or_default();
                tally.requests += 1;
                tally.events += events;
                async { StatusCode::NO_CONTENT }
            }),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("webhook-receiver".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    axum::serve(listener, app).await
                })
            })?;
        Ok(Receiver { address, book })
    }

    /// What `path` accepted so far.
    pub fn received(&self, path: &str) -> Tally {
        let book = self.book.lock().unwrap();
        book.tallies.get(path).copied().unwrap_or_default()
    }

    /// Waits until no notification has arrived for `QUIET` (at most `SETTLE_LIMIT`): the
    /// deliveries of a server measured before have caught up, so that they run in nobody
    /// else's measurement.
    pub async fn settle(&self) {
        let started = Instant::now();
        loop {
            let since = self.book.lock().unwrap().last_arrival.elapsed();
            if since >= QUIET || started.elapsed() >= SETTLE_LIMIT {
                return;
            }
            tokio::time::sleep(QUIET - since).await;
        }
    }
}
