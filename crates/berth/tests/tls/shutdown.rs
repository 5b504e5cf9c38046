//! SIGTERM stops `berth serve` gracefully with TLS as without: it stops accepting, lets the
//! request in flight finish, and exits cleanly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;

use crate::pki::{https_url, trusting, CertFiles, TestCa};
use crate::support::http::{pseudo_random, Registry};
use crate::support::TestServer;

/// A body sent in `pieces` pieces with `delay` between them, counting the pieces handed out.
fn counted_slow_body(
    data: Bytes,
    pieces: usize,
    delay: Duration,
) -> (reqwest::Body, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let piece = data.len().div_ceil(pieces);
    let stream = futures::stream::unfold(0usize, move |offset| {
        let data = data.clone();
        let counter = counter.clone();
        async move {
            if offset >= data.len() {
                return None;
            }
            if offset > 0 {
                tokio::time::sleep(delay).await;
            }
            let end = (offset + piece).min(data.len());
            counter.fetch_add(1, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(data.slice(offset..end)), end))
        }
    });
    (reqwest::Body::wrap_stream(stream), sent)
}

/// Starts a slow upload, sends SIGTERM while it streams, and checks that the upload completes
/// (202 for all its bytes) and the server then exits with success, saying so.
async fn upload_survives_sigterm(mut server: TestServer, registry: Registry) {
    let repo = "tls/shutdown";
    let location = registry.start_upload(repo).await.expect("upload starts");
    let data = pseudo_random(11, 640 * 1024);
    let (body, sent) = counted_slow_body(data.clone(), 10, Duration::from_millis(150));
    let upload = tokio::spawn({
        let registry = registry.clone();
        async move {
            registry
                .patch_request(&location, 0, data.len() as u64)
                .body(body)
                .send()
                .await
                .map(|r| {
                    let range = r
                        .headers()
                        .get("range")
                        .map(|v| v.to_str().unwrap().to_owned());
                    (r.status(), range)
                })
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the upload did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    });
    let (patched, range) = upload
        .await
        .unwrap()
        .expect("the upload in flight finishes");
    assert_eq!(patched, StatusCode::ACCEPTED);
    assert_eq!(
        range,
        Some(format!("0-{}", 640 * 1024 - 1)),
        "every byte was received"
    );
    let (status, server) = status.await.unwrap();
    assert!(
        status.success(),
        "berth exited with {status}; log:\n{}",
        server.log()
    );
    assert!(server.log().contains("berth stopped"), "{}", server.log());
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_over_tls() {
    let ca = TestCa::new("Berth test CA");
    let files = CertFiles::new(&ca.issue("berth shutdown", 1));
    let server = files.start_server();
    let registry = Registry {
        http: trusting(&ca.pem()).build().unwrap(),
        base: https_url(&server, "localhost"),
    };
    upload_survives_sigterm(server, registry).await;
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_over_plain_http() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    upload_survives_sigterm(server, registry).await;
}

#[tokio::test]
async fn a_request_stalled_past_the_shutdown_timeout_is_cut_over_tls() {
    let ca = TestCa::new("Berth test CA");
    let files = CertFiles::new(&ca.issue("berth shutdown", 1));
    let mut args = files.args();
    args.extend(["--shutdown-timeout".to_owned(), "1s".to_owned()]);
    let server = TestServer::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let registry = Registry {
        http: trusting(&ca.pem()).build().unwrap(),
        base: https_url(&server, "localhost"),
    };
    let location = registry
        .start_upload("tls/stalled")
        .await
        .expect("upload starts");
    // A body that never ends: one piece, then the stream stays open.
    let (feed, pieces) = futures::channel::mpsc::unbounded::<std::io::Result<Bytes>>();
    feed.unbounded_send(Ok(Bytes::from(vec![7u8; 64 * 1024])))
        .unwrap();
    let upload = tokio::spawn({
        let registry = registry.clone();
        async move {
            registry
                .http
                .patch(&location)
                .body(reqwest::Body::wrap_stream(pieces))
                .send()
                .await
        }
    });
    // The server has the session's bytes once its staged upload grows.
    let staged = server.data_dir().join("blobs").join("uploads");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_dir(&staged)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.metadata().is_ok_and(|m| m.len() > 0))
    {
        assert!(
            Instant::now() < deadline,
            "the upload did not reach the server"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, server) = tokio::task::spawn_blocking(move || {
        let mut server = server;
        (server.terminate(), server)
    })
    .await
    .unwrap();
    assert!(
        !status.success(),
        "a cut request is not a clean stop; log:\n{}",
        server.log()
    );
    assert!(
        server
            .log()
            .contains("requests still in flight after shutdown_timeout"),
        "{}",
        server.log()
    );
    assert!(
        upload.await.unwrap().is_err(),
        "the stalled request was cut"
    );
    drop(feed);
}
