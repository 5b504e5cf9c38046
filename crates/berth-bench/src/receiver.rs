//! The webhook receiver of the observability group: a plain HTTP server on loopback, in the
//! bench's own process, that answers every notification with 204 and counts requests and
//! events per path, so that Berth observed pays for signing and delivering each event as it
//! would in production.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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

/// A running receiver: where it listens, and what it has accepted per path.
pub struct Receiver {
    pub address: SocketAddr,
    received: Arc<Mutex<HashMap<String, Tally>>>,
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port and serves until the bench exits.
    pub async fn start() -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let received = Arc::new(Mutex::new(HashMap::<String, Tally>::new()));
        let book = received.clone();
        let app = Router::new().route(
            "/{*path}",
            post(move |uri: Uri, body: Bytes| {
                // A batch is a JSON array of events; a single event is an object.
                let events = match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(serde_json::Value::Array(batch)) => batch.len() as u64,
                    _ => 1,
                };
                let mut book = book.lock().unwrap();
                let tally = book.entry(uri.path().to_owned()).or_default();
                tally.requests += 1;
                tally.events += events;
                async { StatusCode::NO_CONTENT }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { address, received })
    }

    /// What `path` accepted so far.
    pub fn received(&self, path: &str) -> Tally {
        self.received
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or_default()
    }
}
