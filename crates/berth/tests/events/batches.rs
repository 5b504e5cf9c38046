//! An endpoint with `batch_size` above 1 receives CloudEvents batches: every event once, in
//! commit order, signed per request, never more than `batch_size` in one request.

use std::collections::BTreeSet;

use crate::receiver::{hmac_sha256_hex, Receiver};
use crate::support::http::{Image, Registry};
use crate::support::TestServer;
use crate::{endpoint, once_in_outbox_order, wait_passed, SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_endpoint_gets_every_event_once_in_order_in_signed_batches() {
    let receiver = Receiver::start().await;
    let config = endpoint(
        "batched",
        &receiver.url("/batched"),
        &format!(
            "secret = {SECRET:?}\nbatch_size = 5\nbatch_wait = \"1s\"\n\
             repositories = [\"batch/**\"]\nbackoff = \"50ms\""
        ),
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    // Pushed together, within the first event's one-second wait: 2 events each
    // (manifest.pushed, tag.moved), with those of `other/x`, which the filter skips, among them.
    let mut images: Vec<Image> = (0..6u64)
        .map(|n| Image::new("batch/app", &format!("v{n}"), 100 + n, &[64]))
        .collect();
    images.insert(3, Image::new("other/x", "v1", 99, &[64]));
    futures::future::join_all(images.iter().map(|image| registry.push_image(image))).await;
    wait_passed(&registry, "batched").await;

    let requests = receiver.requests("/batched");
    let mut events = Vec::new();
    for request in &requests {
        assert_eq!(request.status, 200);
        assert!(
            request
                .header("content-type")
                .starts_with("application/cloudevents-batch+json"),
            "{:?}",
            request.headers
        );
        assert_eq!(
            request.header("x-berth-signature"),
            format!(
                "sha256={}",
                hmac_sha256_hex(SECRET.as_bytes(), &request.body)
            )
        );
        let batch = request.json();
        let batch = batch.as_array().expect("a batch is a JSON array");
        assert!((1..=5).contains(&batch.len()), "{} events", batch.len());
        events.extend(batch.iter().cloned());
    }
    assert_eq!(events.len(), 12, "{events:#?}");
    assert!(events
        .iter()
        .all(|e| e["data"]["repository"] == "batch/app"));
    once_in_outbox_order(&events);
    let tags: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "dev.berth.tag.moved")
        .map(|e| e["data"]["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags.len(), 6, "{tags:?}");
    // Gathered for a second, twelve events make full batches, not one request each.
    assert!(
        requests.len() < 6,
        "{} requests for 12 events",
        requests.len()
    );
}

/// A batch the receiver keeps refusing goes dead as a whole: every event in it gets its dead
/// letter, and the endpoint moves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_dead_letters_every_event_in_it() {
    let receiver = Receiver::start().await;
    receiver.answer("/refusing", 500);
    let config = endpoint(
        "refusing",
        &receiver.url("/refusing"),
        "batch_size = 10\nbatch_wait = \"500ms\"\nmax_attempts = 2\nbackoff = \"10ms\"",
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    let images: Vec<Image> = (0..3u64)
        .map(|n| Image::new("dead/app", &format!("v{n}"), 200 + n, &[64]))
        .collect();
    futures::future::join_all(images.iter().map(|image| registry.push_image(image))).await;
    let state = wait_passed(&registry, "refusing").await;
    let dead = state["dead"].as_array().unwrap();
    assert_eq!(dead.len(), 6, "{state}");
    assert!(dead.iter().all(|d| d["attempts"] == 2), "{state}");
    assert!(dead.iter().all(|d| d["lastError"] == "HTTP 500"), "{state}");
    // Every request carried events of the dead letters, and each was tried twice.
    let sent: Vec<usize> = receiver
        .requests("/refusing")
        .iter()
        .map(|r| r.json().as_array().unwrap().len())
        .collect();
    assert_eq!(sent.iter().sum::<usize>(), 2 * 6, "{sent:?}");
}
