//! Event notifications end to end: the real `berth` binary delivering CloudEvents to a real
//! HTTP receiver started by the test, on the embedded deployment (SQLite + filesystem) and on
//! PostgreSQL + S3.

#[path = "../support/mod.rs"]
mod support;

mod batches;
mod delivery;
mod kinds;
mod receiver;
mod scale_out;

use serde_json::Value;
use support::http::{client, Registry};

pub const SECRET: &str = "an endpoint's shared secret";

/// A `[[notifications.endpoints]]` table: `name`, `url`, then further `key = value` lines.
pub fn endpoint(name: &str, url: &str, extra: &str) -> String {
    format!("[[notifications.endpoints]]\nname = {name:?}\nurl = {url:?}\n{extra}\n")
}

/// `GET /berth/v1/events`: the delivery state of every endpoint, by name.
pub async fn deliveries(registry: &Registry) -> Value {
    let response = client()
        .get(registry.url("/berth/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET /berth/v1/events");
    let body: Value = response.json().await.unwrap();
    let mut by_name = serde_json::Map::new();
    for endpoint in body["endpoints"].as_array().unwrap() {
        by_name.insert(
            endpoint["name"].as_str().unwrap().to_owned(),
            endpoint.clone(),
        );
    }
    Value::Object(by_name)
}

/// `DELETE /v2/<repo>/manifests/<reference>`, asserting 202.
pub async fn delete(registry: &Registry, repo: &str, reference: &str) {
    let response = client()
        .delete(registry.url(&format!("/v2/{repo}/manifests/{reference}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "DELETE {repo}:{reference}");
}

/// Waits until endpoint `name` has passed every committed event; its delivery state then.
pub async fn wait_passed(registry: &Registry, name: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state = deliveries(registry).await[name].clone();
        if state["pending"] == 0 {
            return state;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} still has pending events: {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Asserts that `events` (CloudEvents as received) hold each event once, with its own id, in
/// outbox order (`berthseq` rising: commit order on the embedded store).
pub fn once_in_outbox_order(events: &[Value]) {
    let ids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "each event once, with its own id");
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["berthseq"].as_i64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in outbox order: {seqs:?}"
    );
}
