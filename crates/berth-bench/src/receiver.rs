//! The webhook receiver of the observability group: a plain HTTP server on loopback, in the
//! bench's own process, that answers every notification with 204 and counts them, so that
//! Berth observed pays for signing and delivering each event as it would in production.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

/// A running receiver: where it listens, and how many notifications it has accepted.
pub struct Receiver {
    pub address: SocketAddr,
    received: Arc<AtomicU64>,
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port and serves until the bench exits.
    pub async fn start() -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let app = Router::new().route(
            "/",
            post(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                async { StatusCode::NO_CONTENT }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Receiver { address, received })
    }

    /// Notifications accepted so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}
