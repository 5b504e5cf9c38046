//! One dispatcher per endpoint: takes the endpoint's delivery lock, then delivers the outbox
//! after the endpoint's cursor in order, forever; and the pruning of passed events.
//!
//! Order: an event is passed (delivered, skipped by the filters, or dead) before the next one
//! is tried, so an endpoint receives events in commit order, and a failing endpoint holds its
//! own queue back (never another endpoint's) until the event is delivered or dead.

use std::sync::Arc;
use std::time::Duration;

use berth_metadata::events::{DeadLetter, StoredEvent};
use berth_metadata::{LockName, MetadataStore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::{Notifications, NotifyEndpoint};
use crate::delivery::attempt;
use crate::error::EventsError;

/// How often the outbox is read when this process committed nothing: events other nodes
/// commit are found at most this late.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a node that does not hold an endpoint's lock tries to take it.
const LOCK_RETRY: Duration = Duration::from_secs(5);
/// Events read from the outbox at once.
const PAGE: u32 = 100;
/// How often passed events older than the retention are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Opens each endpoint's cursor (so that what is committed from now on is delivered, even
/// before its dispatcher first runs) and starts one dispatcher task per endpoint.
///
/// Errors: the metadata store failed while opening a cursor.
pub async fn start(
    meta: Arc<dyn MetadataStore>,
    notifications: &Notifications,
) -> Result<Vec<JoinHandle<()>>, EventsError> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| EventsError::Config(format!("building the HTTP client: {e}")))?;
    let mut tasks = Vec::new();
    for endpoint in &notifications.endpoints {
        meta.open_event_cursor(&endpoint.name).await?;
        let dispatcher = Dispatcher {
            meta: meta.clone(),
            endpoint: endpoint.clone(),
            client: client.clone(),
            source: notifications.source.clone(),
        };
        info!(endpoint = %endpoint.name, url = %endpoint.url, "event notifications enabled");
        tasks.push(tokio::spawn(dispatcher.run()));
    }
    Ok(tasks)
}

/// Deletes, every hour, events older than the retention that every configured endpoint has
/// passed (every event older than it when none is configured), and old dead letters.
pub async fn prune_periodically(meta: Arc<dyn MetadataStore>, notifications: Notifications) {
    let names = notifications.names();
    let retention = i64::try_from(notifications.retention.as_millis()).unwrap_or(i64::MAX);
    let mut ticker = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        ticker.tick().await;
        let pruned = async {
            let now = meta.now_millis().await?;
            meta.prune_events(&names, now.saturating_sub(retention))
                .await
        }
        .await;
        match pruned {
            Ok(0) => {}
            Ok(events) => info!(events, "passed events pruned from the outbox"),
            Err(e) => warn!(error = %e, "pruning the event outbox failed"),
        }
    }
}

struct Dispatcher {
    meta: Arc<dyn MetadataStore>,
    endpoint: Arc<NotifyEndpoint>,
    client: reqwest::Client,
    source: String,
}

impl Dispatcher {
    async fn run(self) {
        let name = self.endpoint.name.clone();
        loop {
            let lease = match self.meta.try_lock(&LockName::EventDelivery(&name)).await {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    debug!(endpoint = %name, "another node delivers to this endpoint");
                    tokio::time::sleep(LOCK_RETRY).await;
                    continue;
                }
                Err(e) => {
                    warn!(endpoint = %name, error = %e, "taking the delivery lock failed");
                    tokio::time::sleep(LOCK_RETRY).await;
                    continue;
                }
            };
            let Err(e) = self.deliver().await;
            warn!(endpoint = %name, error = %e, "event delivery stopped; starting over");
            drop(lease);
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Delivers until the metadata store fails.
    async fn deliver(&self) -> Result<std::convert::Infallible, EventsError> {
        let name = self.endpoint.name.as_str();
        let mut written = self.meta.watch_events();
        loop {
            written.mark_unchanged();
            let pending = self.meta.count_events_after_cursor(name).await?;
            metrics::gauge!("berth_events_pending", "endpoint" => name.to_owned())
                .set(pending as f64);
            let events = self.meta.events_after_cursor(name, PAGE).await?;
            if events.is_empty() {
                tokio::select! {
                    _ = written.changed() => {}
                    _ = tokio::time::sleep(POLL_INTERVAL) => {}
                }
                continue;
            }
            let mut skipped = None;
            for event in &events {
                if !self.endpoint.accepts(event) {
                    skipped = Some(event.seq);
                    continue;
                }
                if let Some(seq) = skipped.take() {
                    self.meta.pass_event(name, seq, None).await?;
                }
                let dead = self.deliver_one(event).await;
                self.meta.pass_event(name, event.seq, dead.as_ref()).await?;
            }
            if let Some(seq) = skipped {
                self.meta.pass_event(name, seq, None).await?;
            }
        }
    }

    /// Attempts `event` until it is delivered (`None`) or its attempts are spent (its dead
    /// letter).
    async fn deliver_one(&self, event: &StoredEvent) -> Option<DeadLetter> {
        let endpoint = &*self.endpoint;
        let label = || ("endpoint", endpoint.name.clone());
        let mut number = 0;
        loop {
            number += 1;
            match attempt(&self.client, endpoint, &self.source, event).await {
                Ok(()) => {
                    metrics::counter!("berth_events_delivered_total", &[label()]).increment(1);
                    debug!(endpoint = %endpoint.name, id = %event.id, kind = %event.kind, "event delivered");
                    return None;
                }
                Err(error) if number >= endpoint.max_attempts => {
                    metrics::counter!("berth_events_failed_attempts_total", &[label()])
                        .increment(1);
                    metrics::counter!("berth_events_dead_lettered_total", &[label()]).increment(1);
                    warn!(
                        endpoint = %endpoint.name, id = %event.id, kind = %event.kind,
                        attempts = number, error = %error, "event given up on"
                    );
                    return Some(DeadLetter {
                        attempts: number,
                        last_error: error,
                    });
                }
                Err(error) => {
                    metrics::counter!("berth_events_failed_attempts_total", &[label()])
                        .increment(1);
                    let wait = endpoint.backoff_after(number);
                    info!(
                        endpoint = %endpoint.name, id = %event.id, attempt = number,
                        error = %error, retry_in_ms = wait.as_millis() as u64,
                        "event delivery failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
