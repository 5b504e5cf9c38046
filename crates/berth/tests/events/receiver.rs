//! A real webhook receiver for the tests: an HTTP server on a free loopback port that records
//! every request (path, headers, body) and answers what the test sets for each path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Book {
    received: Vec<Received>,
    /// Status per path; 200 when not set.
    answers: HashMap<String, u16>,
    /// Paths that answer 500 to the first attempt of each event id, then 200.
    fail_first: Vec<String>,
}

#[derive(Clone)]
pub struct Receiver {
    book: Arc<Mutex<Book>>,
    pub base: String,
}

async fn record(
    State(book): State<Arc<Mutex<Book>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut book = book.lock().unwrap();
    let path = uri.path().to_owned();
    let mut status = *book.answers.get(&path).unwrap_or(&200);
    if book.fail_first.contains(&path) {
        let id = serde_json::from_slice::<Value>(&body)
            .ok()
            .map(|v| v["id"].clone());
        let seen = book
            .received
            .iter()
            .any(|r| r.path == path && Some(r.json()["id"].clone()) == id);
        if !seen {
            status = 500;
        }
    }
    book.received.push(Received {
        path,
        headers,
        body,
        status,
    });
    let status = StatusCode::from_u16(status).unwrap();
    if status.is_redirection() {
        // Somewhere a client following redirects would go next, on this same receiver.
        return (status, [(axum::http::header::LOCATION, REDIRECT_TARGET)]).into_response();
    }
    status.into_response()
}

/// Where a path answering 3xx points its `Location`.
pub const REDIRECT_TARGET: &str = "/redirected";

impl Receiver {
    pub async fn start() -> Receiver {
        let book = Arc::new(Mutex::new(Book::default()));
        let app = axum::Router::new()
            .route("/{*path}", post(record))
            .with_state(book.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { book, base }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn answer(&self, path: &str, status: u16) {
        self.book
            .lock()
            .unwrap()
            .answers
            .insert(path.to_owned(), status);
    }

    pub fn fail_first_attempts(&self, path: &str) {
        self.book.lock().unwrap().fail_first.push(path.to_owned());
    }

    /// Every request to `path` so far.
    pub fn requests(&self, path: &str) -> Vec<Received> {
        let book = self.book.lock().unwrap();
        book.received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// The CloudEvents `path` accepted (answered 2xx), in arrival order.
    pub fn delivered(&self, path: &str) -> Vec<Value> {
        self.requests(path)
            .iter()
            .filter(|r| r.status < 300)
            .map(Received::json)
            .collect()
    }

    /// Waits until `done` holds for the requests to `path`; panics after a minute, showing them.
    pub async fn wait_for(&self, path: &str, what: &str, done: impl Fn(&[Received]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let requests = self.requests(path);
            if done(&requests) {
                return;
            }
            if Instant::now() > deadline {
                let bodies: Vec<String> = requests
                    .iter()
                    .map(|r| format!("{} {}", r.status, String::from_utf8_lossy(&r.body)))
                    .collect();
                panic!("{path}: {what} did not happen; got {bodies:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `path` accepted an event of type `kind`.
    pub async fn wait_for_type(&self, path: &str, kind: &str) {
        self.wait_for(path, kind, |requests| {
            requests
                .iter()
                .any(|r| r.status < 300 && r.json()["type"] == kind)
        })
        .await
    }
}

/// HMAC-SHA256 (RFC 2104) written out here, so that the test checks the server's signature
/// against an implementation of its own.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}
