//! The one place requests are observed: every request gets an id (`X-Request-Id`, echoed in
//! the response), and once its response has been sent (or abandoned) one access log line
//! (target `berth::access`) and its HTTP metrics. Handlers never log requests or count them.
//!
//! Metrics, through the `metrics` facade (no-ops unless the server installed a recorder):
//! `berth_http_requests_total{endpoint,method,status}`,
//! `berth_http_request_duration_seconds{endpoint,method}` (until the last body byte was
//! sent), `berth_http_received_bytes_total{endpoint}` and `berth_http_sent_bytes_total{endpoint}`
//! (body bytes that actually passed). `endpoint` is the request's kind (see `kind`).
//!
//! The access line never holds a secret: no header but the request id is read, and the path
//! is logged without its query string (where a token could ride).

mod body;
pub mod kind;
pub mod ops;
pub mod request_id;

use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode};

use self::body::Counted;

/// Who a response was served to, as the authorization layer found out: the authenticated
/// subject, or `anonymous`. Set as a response extension by the dispatcher.
#[derive(Debug, Clone)]
pub(crate) struct AccessUser(pub String);

/// Everything the access line and the metrics say about one request but its byte counts.
struct Served {
    id: HeaderValue,
    method: Method,
    path: String,
    kind: &'static str,
    repository: Option<String>,
    client: IpAddr,
    status: StatusCode,
    user: String,
    started: Instant,
    received: Arc<AtomicU64>,
}

impl Served {
    fn finish(self, sent: u64) {
        let received = self.received.load(std::sync::atomic::Ordering::Relaxed);
        let took = self.started.elapsed();
        let method = kind::method_label(&self.method);
        metrics::counter!(
            "berth_http_requests_total",
            "endpoint" => self.kind,
            "method" => method,
            "status" => self.status.as_u16().to_string()
        )
        .increment(1);
        metrics::histogram!(
            "berth_http_request_duration_seconds",
            "endpoint" => self.kind,
            "method" => method
        )
        .record(took.as_secs_f64());
        metrics::counter!("berth_http_received_bytes_total", "endpoint" => self.kind)
            .increment(received);
        metrics::counter!("berth_http_sent_bytes_total", "endpoint" => self.kind).increment(sent);
        // User names come from the client (Basic) or another issuer (a token's `sub`): escaped,
        // so that no name can end the line and forge another.
        tracing::info!(
            target: "berth::access",
            request_id = self.id.to_str().unwrap_or_default(),
            method = %self.method,
            endpoint = self.kind,
            repository = self.repository.as_deref().unwrap_or(""),
            path = %self.path,
            status = self.status.as_u16(),
            bytes_in = received,
            bytes_out = sent,
            duration_ms = took.as_secs_f64() * 1000.0,
            user = %self.user.escape_debug(),
            client = %self.client,
            "request"
        );
    }
}

/// The observing middleware; the outermost layer of the router.
pub(crate) async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let id = request_id::of(&parts.headers);
    parts.headers.insert(request_id::REQUEST_ID, id.clone());
    let path = parts.uri.path().to_owned();
    let (kind, repository) = kind::of_path(&path);
    let method = parts.method.clone();
    let client = crate::auth::client_address(&parts);
    let received = Arc::new(AtomicU64::new(0));
    let body = Counted::wrap(body, received.clone(), None);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    response
        .headers_mut()
        .insert(request_id::REQUEST_ID, id.clone());
    let user = response
        .extensions()
        .get::<AccessUser>()
        .map_or_else(|| "anonymous".to_owned(), |u| u.0.clone());
    let served = Served {
        id,
        method,
        path,
        kind,
        repository,
        client,
        status: response.status(),
        user,
        started,
        received,
    };
    response.map(|body| {
        Counted::wrap(
            body,
            Arc::new(AtomicU64::new(0)),
            Some(Box::new(move |sent| served.finish(sent))),
        )
    })
}
