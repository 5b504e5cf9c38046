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

pub mod access;
mod body;
pub mod kind;
pub mod ops;
pub mod request_id;

use std::collections::HashMap;
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
        with_handles(self.kind, method, self.status, |handles| {
            handles.requests.increment(1);
            handles.duration.record(took.as_secs_f64());
            handles.received.increment(received);
            handles.sent.increment(sent);
        });
        access::AccessLine {
            request_id: self.id.to_str().unwrap_or_default(),
            method: self.method.as_str(),
            endpoint: self.kind,
            repository: self.repository.as_deref().unwrap_or(""),
            path: &self.path,
            status: self.status.as_u16(),
            bytes_in: received,
            bytes_out: sent,
            duration: took,
            user: &self.user,
            client: self.client,
        }
        .write();
    }
}

/// The HTTP metrics of one endpoint kind, method and status.
struct Handles {
    requests: metrics::Counter,
    duration: metrics::Histogram,
    received: metrics::Counter,
    sent: metrics::Counter,
}

thread_local! {
    /// Each worker thread's handles, so that a request costs no lookup in the recorder's
    /// registry (a key built and hashed per metric): a few hundred combinations at most.
    static HANDLES: std::cell::RefCell<HashMap<(&'static str, &'static str, u16), Handles>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Runs `record` with the handles of `kind`, `method` and `status`, registering them on this
/// thread's first request of that combination.
fn with_handles(
    kind: &'static str,
    method: &'static str,
    status: StatusCode,
    record: impl FnOnce(&Handles),
) {
    HANDLES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let handles = cache
            .entry((kind, method, status.as_u16()))
            .or_insert_with(|| Handles {
                requests: metrics::counter!(
                    "berth_http_requests_total",
                    "endpoint" => kind,
                    "method" => method,
                    "status" => status.as_u16().to_string()
                ),
                duration: metrics::histogram!(
                    "berth_http_request_duration_seconds",
                    "endpoint" => kind,
                    "method" => method
                ),
                received: metrics::counter!("berth_http_received_bytes_total", "endpoint" => kind),
                sent: metrics::counter!("berth_http_sent_bytes_total", "endpoint" => kind),
            });
        record(handles);
    })
}

/// The status logged for a request whose client went away before it was answered (nginx's
/// "client closed request").
const CLIENT_CLOSED_REQUEST: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => panic!("499 is a valid status"),
};

/// A request not answered yet; logged as abandoned if dropped so.
struct Abandoned(Option<Served>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(served) = self.0.take() {
            served.finish(0);
        }
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
    // Until the handler answers, the request counts as abandoned: a client that goes away
    // first drops this future, and the guard still writes its line and metrics.
    let mut pending = Abandoned(Some(Served {
        id: id.clone(),
        method,
        path,
        kind,
        repository,
        client,
        status: CLIENT_CLOSED_REQUEST,
        user: "-".to_owned(),
        started,
        received,
    }));
    let mut response = next.run(Request::from_parts(parts, body)).await;
    response.headers_mut().insert(request_id::REQUEST_ID, id);
    let mut served = pending.0.take().expect("taken only here");
    served.status = response.status();
    served.user = response
        .extensions()
        .get::<AccessUser>()
        .map_or_else(|| "anonymous".to_owned(), |u| u.0.clone());
    response.map(|body| {
        Counted::wrap(
            body,
            Arc::new(AtomicU64::new(0)),
            Some(Box::new(move |sent| served.finish(sent))),
        )
    })
}
