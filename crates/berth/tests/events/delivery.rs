//! Failures: a receiver that is down gets its events later, in order; one that keeps failing
//! makes dead letters the admin endpoint lists; a crash before delivery loses nothing.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::receiver::Receiver;
use crate::support::http::{Image, Registry};
use crate::support::TestServer;
use crate::{deliveries, endpoint, wait_passed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_gets_its_events_later_and_a_failing_one_dead_letters() {
    let receiver = Receiver::start().await;
    receiver.answer("/late", 503);
    receiver.answer("/broken", 500);
    let config = format!(
        "{}{}",
        endpoint(
            "late",
            &receiver.url("/late"),
            "events = [\"dev.berth.tag.moved\"]\nmax_attempts = 1000000\nbackoff = \"20ms\"\nmax_backoff = \"100ms\""
        ),
        endpoint(
            "broken",
            &receiver.url("/broken"),
            "events = [\"dev.berth.manifest.pushed\"]\nmax_attempts = 3\nbackoff = \"10ms\""
        ),
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    let mut pushed = Vec::new();
    for round in 0..3u64 {
        for repo in ["down/a", "down/b"] {
            let image = Image::new(
                repo,
                &format!("t{round}"),
                round * 10 + repo.len() as u64,
                &[64],
            );
            registry.push_image(&image).await;
            pushed.push(image);
        }
    }
    // While the receiver fails, the first event is attempted again and again (with one id),
    // and every event after the first (a manifest.pushed the filter skipped) stays pending.
    receiver
        .wait_for("/late", "three attempts", |r| r.len() >= 3)
        .await;
    let attempts = receiver.requests("/late");
    assert!(attempts
        .iter()
        .all(|r| r.json()["id"] == attempts[0].json()["id"]));
    let state = deliveries(&registry).await;
    assert_eq!(
        state["late"]["pending"].as_u64().unwrap(),
        2 * pushed.len() as u64 - 1
    );
    assert_eq!(
        state["late"]["pendingEvents"][0]["id"],
        attempts[0].json()["id"]
    );

    // Each manifest.pushed event is attempted three times, then dead.
    let broken = wait_passed(&registry, "broken").await;
    let dead = broken["dead"].as_array().unwrap();
    assert_eq!(dead.len(), pushed.len(), "{broken}");
    for (letter, image) in dead.iter().zip(&pushed) {
        assert_eq!(letter["type"], "dev.berth.manifest.pushed");
        assert_eq!(letter["data"]["digest"], image.digest.as_str());
        assert_eq!(
            (letter["attempts"].clone(), letter["lastError"].clone()),
            (json!(3), json!("HTTP 500"))
        );
        let id = letter["id"].as_str().unwrap();
        let tries = receiver
            .requests("/broken")
            .iter()
            .filter(|r| r.json()["id"] == id)
            .count();
        assert_eq!(tries, 3, "{id} attempted max_attempts times");
    }

    // Up again: everything arrives, once each, in order per repository.
    receiver.answer("/late", 200);
    wait_passed(&registry, "late").await;
    let delivered = receiver.delivered("/late");
    assert_eq!(delivered.len(), pushed.len());
    let mut per_repo: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in &delivered {
        assert_eq!(event["type"], "dev.berth.tag.moved");
        per_repo
            .entry(event["data"]["repository"].as_str().unwrap().to_owned())
            .or_default()
            .push(event["data"]["tag"].as_str().unwrap().to_owned());
    }
    for repo in ["down/a", "down/b"] {
        assert_eq!(per_repo[repo], ["t0", "t1", "t2"], "{repo} in push order");
    }
    assert_eq!(deliveries(&registry).await["late"]["dead"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_before_a_crash_is_delivered_after_restart_with_its_id() {
    let receiver = Receiver::start().await;
    receiver.fail_first_attempts("/hook");
    // After the failed first attempt the dispatcher waits an hour: the crash comes first.
    let config = endpoint(
        "hook",
        &receiver.url("/hook"),
        "events = [\"dev.berth.manifest.pushed\"]\nbackoff = \"1h\"",
    );
    let mut server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    let image = Image::new("crash/app", "v1", 7, &[64]);
    registry.push_image(&image).await;
    receiver
        .wait_for("/hook", "the first attempt", |r| !r.is_empty())
        .await;
    let first: Value = receiver.requests("/hook")[0].json();
    assert_eq!(first["data"]["digest"], image.digest.as_str());
    server.kill();
    server.restart();
    receiver
        .wait_for("/hook", "delivery after restart", |r| {
            r.iter().any(|r| r.status == 200)
        })
        .await;
    let delivered = receiver.delivered("/hook");
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0]["id"], first["id"],
        "the same id after the crash"
    );
    assert_eq!(delivered[0], first, "the same event");
    let registry = Registry::new(server.url());
    let state = wait_passed(&registry, "hook").await;
    assert_eq!(state["dead"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_failed_attempts_and_the_url_secrets_stay_out_of_logs_and_letters() {
    let receiver = Receiver::start().await;
    receiver.answer("/moved", 307);
    receiver.answer("/gone", 302);
    let with_secrets = |path: &str| {
        receiver
            .url(path)
            .replacen("http://", "http://hookuser:hook-password-1@", 1)
            + "?code=hook-query-token-2"
    };
    let config = format!(
        "{}{}",
        endpoint(
            "moved",
            &with_secrets("/moved"),
            "events = [\"dev.berth.manifest.pushed\"]\nmax_attempts = 2\nbackoff = \"10ms\""
        ),
        endpoint(
            "gone",
            &receiver.url("/gone"),
            "events = [\"dev.berth.manifest.pushed\"]\nmax_attempts = 2\nbackoff = \"10ms\""
        ),
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    registry
        .push_image(&Image::new("hooks/app", "v1", 11, &[64]))
        .await;
    for (name, status) in [("moved", 307), ("gone", 302)] {
        let state = wait_passed(&registry, name).await;
        let dead = state["dead"].as_array().unwrap();
        assert_eq!(dead.len(), 1, "{state}");
        assert_eq!(dead[0]["lastError"], format!("HTTP {status}"), "{state}");
    }
    let moved = receiver.requests("/moved");
    assert_eq!(moved.len(), 2);
    // The URL's user information is sent as Basic credentials (base64 of
    // "hookuser:hook-password-1").
    for request in &moved {
        assert_eq!(
            request.header("authorization"),
            "Basic aG9va3VzZXI6aG9vay1wYXNzd29yZC0x"
        );
        assert!(request.header("user-agent").starts_with("berth/"));
    }
    assert!(receiver.requests("/gone")[0]
        .headers
        .get("authorization")
        .is_none());
    assert!(
        receiver
            .requests(crate::receiver::REDIRECT_TARGET)
            .is_empty(),
        "a redirect was followed"
    );
    let state = deliveries(&registry).await.to_string();
    let log = server.log();
    for secret in ["hook-password-1", "hook-query-token-2"] {
        assert!(!log.contains(secret), "{secret} logged: {log}");
        assert!(
            !state.contains(secret),
            "{secret} in /berth/v1/events: {state}"
        );
    }
    assert!(log.contains("event notifications enabled"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_times_out_and_a_closed_port_is_refused() {
    // Accepts connections and reads what comes, but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        loop {
            let (connection, _) = silent.accept().await.unwrap();
            connections.push(connection);
        }
    });
    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let settings = "events = [\"dev.berth.manifest.pushed\"]\nmax_attempts = 2\nbackoff = \"10ms\"\ntimeout = \"300ms\"";
    let config = format!(
        "{}{}",
        endpoint("silent", &silent_url, settings),
        endpoint("closed", &closed_url, settings),
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    registry
        .push_image(&Image::new("hooks/slow", "v1", 12, &[64]))
        .await;
    let silent = wait_passed(&registry, "silent").await;
    assert_eq!(
        silent["dead"][0]["lastError"], "timed out after 300ms",
        "{silent}"
    );
    assert_eq!(silent["dead"][0]["attempts"], 2, "{silent}");
    let closed = wait_passed(&registry, "closed").await;
    let error = closed["dead"][0]["lastError"].as_str().unwrap();
    assert!(
        error.starts_with("request failed: ") && error.contains("onnection refused"),
        "{closed}"
    );
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_whose_body_stalls_counts_at_its_status_without_waiting_out_the_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Answers every request "200, 100 bytes follow", sends none of them, and holds on.
    let stalling = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", stalling.local_addr().unwrap());
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    let held = tokio::spawn(async move {
        loop {
            let (mut connection, _) = stalling.accept().await.unwrap();
            let count = count.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(read @ 1..) = connection.read(&mut buffer).await {
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request);
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length {
                        request.drain(..head_end + 4 + length);
                        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
                        connection.write_all(answer).await.unwrap();
                    }
                }
                std::future::pending::<()>().await;
            });
        }
    });
    // Waiting out a 30 s timeout per event, the three events would take 90 s, past
    // `wait_passed`'s minute.
    let config = endpoint(
        "stalling",
        &url,
        "events = [\"dev.berth.manifest.pushed\"]\nmax_attempts = 1\ntimeout = \"30s\"",
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    for tag in ["v1", "v2", "v3"] {
        registry
            .push_image(&Image::new(
                "hooks/stall",
                tag,
                tag.len() as u64 + tag.as_bytes()[1] as u64,
                &[64],
            ))
            .await;
    }
    let state = wait_passed(&registry, "stalling").await;
    assert_eq!(state["dead"].as_array().map(Vec::len), Some(0), "{state}");
    assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 3);
    held.abort();
}
