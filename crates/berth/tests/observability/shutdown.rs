//! Graceful shutdown over plain HTTP (the TLS target checks the same over HTTPS): after
//! SIGTERM the listener is closed at once while a slow upload finishes and the process exits
//! 0; a request stalled past `shutdown_timeout` is cut and the process exits all the same,
//! with failure.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::mpsc;
use reqwest::StatusCode;

use crate::scrape::Metrics;
use crate::support::http::{pseudo_random, Registry};
use crate::support::TestServer;

/// A request body the test feeds piece by piece; it ends when the sender is dropped.
fn fed_body() -> (reqwest::Body, mpsc::UnboundedSender<std::io::Result<Bytes>>) {
    let (feed, pieces) = mpsc::unbounded();
    (reqwest::Body::wrap_stream(pieces), feed)
}

/// Waits (bounded) until the server reports `n` request bodies streaming into uploads.
async fn wait_for_uploads_in_progress(registry: &Registry, n: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Metrics::of(registry)
        .await
        .sum("berth_uploads_in_progress", &[])
        != n
    {
        assert!(
            Instant::now() < deadline,
            "the upload did not reach the server"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn send_sigterm(server: &TestServer) {
    let pid = server.pid().expect("the server runs").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIGTERM could not be sent");
}

#[tokio::test]
async fn after_sigterm_new_connections_are_refused_while_an_upload_finishes() {
    let mut server = TestServer::start();
    let registry = Registry::new(server.url());
    let location = registry.start_upload("obs/shutdown").await.unwrap();
    let data = pseudo_random(21, 400 * 1024);
    let half = data.len() / 2;
    let (body, feed) = fed_body();
    feed.unbounded_send(Ok(data.slice(..half))).unwrap();
    let upload = tokio::spawn({
        let (registry, len) = (registry.clone(), data.len() as u64);
        async move {
            let response = registry
                .patch_request(&location, 0, len)
                .body(body)
                .send()
                .await?;
            Ok::<_, reqwest::Error>((response.status(), response.headers().get("range").cloned()))
        }
    });
    wait_for_uploads_in_progress(&registry, 1.0).await;

    send_sigterm(&server);
    let port = server.port;
    let refused = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "the listener stayed open after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    refused.await.unwrap();
    // The listener is closed; the upload in flight still gets the rest of its bytes.
    feed.unbounded_send(Ok(data.slice(half..))).unwrap();
    drop(feed);
    let (status, range) = upload
        .await
        .unwrap()
        .expect("the upload in flight finishes");
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        range.unwrap().to_str().unwrap(),
        format!("0-{}", data.len() - 1),
        "every byte was received"
    );
    let exited = tokio::task::spawn_blocking(move || (server.terminate(), server))
        .await
        .unwrap();
    let (status, server) = exited;
    assert!(
        status.success(),
        "berth exited with {status}; log:\n{}",
        server.log()
    );
    assert!(server.log().contains("berth stopped"), "{}", server.log());
}

#[tokio::test]
async fn a_request_stalled_past_the_shutdown_timeout_does_not_keep_berth_alive() {
    let server = TestServer::start_with(&["--shutdown-timeout", "1s"]);
    let registry = Registry::new(server.url());
    let location = registry.start_upload("obs/stalled").await.unwrap();
    let (body, feed) = fed_body();
    feed.unbounded_send(Ok(pseudo_random(22, 64 * 1024)))
        .unwrap();
    let upload = tokio::spawn({
        let registry = registry.clone();
        async move { registry.http.patch(&location).body(body).send().await }
    });
    // The body never ends while `feed` lives: the request stalls in the server.
    wait_for_uploads_in_progress(&registry, 1.0).await;
    let (status, server) = tokio::task::spawn_blocking(move || {
        let mut server = server;
        (server.terminate(), server)
    })
    .await
    .unwrap();
    assert!(
        !status.success(),
        "a stop that cut a request is not a clean exit; log:\n{}",
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

/// Writes `bytes` to `stream`, ignoring a connection the server has already closed.
fn send(stream: &mut std::net::TcpStream, bytes: &[u8]) {
    use std::io::Write;
    let _ = stream.write_all(bytes);
}

/// Reads until the server closes `stream`, which it must do within `within`; what it sent.
fn read_until_closed(stream: &mut std::net::TcpStream, within: Duration) -> String {
    use std::io::Read;
    stream.set_read_timeout(Some(within)).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server kept the connection open past {within:?}: {e}"),
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_connection_trickling_its_request_head_is_closed_and_does_not_hold_a_stop() {
    let (status, server, stop_took) = tokio::task::spawn_blocking(move || {
        let mut server = TestServer::start_with_config(
            "header_read_timeout = \"2s\"\n",
            &["--shutdown-timeout", "20s"],
        );
        let address = ("127.0.0.1", server.port);

        // A whole request on a fresh connection is answered as usual.
        let mut prompt = std::net::TcpStream::connect(address).unwrap();
        send(
            &mut prompt,
            b"GET /v2/ HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n",
        );
        let answer = read_until_closed(&mut prompt, Duration::from_secs(10));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

        // A head that never ends: a byte a second, well under what a client would send.
        let mut slow = std::net::TcpStream::connect(address).unwrap();
        let started = Instant::now();
        send(&mut slow, b"GET /v2/ HTTP/1.1\r\nHost: berth\r\n");
        let trickle = std::thread::spawn({
            let mut slow = slow.try_clone().unwrap();
            move || {
                for _ in 0..30 {
                    std::thread::sleep(Duration::from_millis(500));
                    send(&mut slow, b"X");
                }
            }
        });
        let answer = read_until_closed(&mut slow, Duration::from_secs(15));
        let closed_after = started.elapsed();
        assert!(
            !answer.contains("200 OK"),
            "an unfinished head was answered: {answer}"
        );
        assert!(
            closed_after >= Duration::from_secs(2),
            "closed before the limit, after {closed_after:?}"
        );

        // A connection idle mid-head does not keep a stop waiting for its shutdown_timeout.
        let mut idle = std::net::TcpStream::connect(address).unwrap();
        send(&mut idle, b"GET /v2/ HTTP/1.1\r\n");
        std::thread::sleep(Duration::from_millis(200));
        let stopping = Instant::now();
        let status = server.terminate();
        let stop_took = stopping.elapsed();
        trickle.join().unwrap();
        (status, server, stop_took)
    })
    .await
    .unwrap();
    assert!(
        status.success(),
        "berth exited with {status}; log:\n{}",
        server.log()
    );
    assert!(
        stop_took < Duration::from_secs(15),
        "the stop waited {stop_took:?} for a connection that never sent a whole head"
    );
}
