//! One dispatcher per endpoint: takes the endpoint's delivery lock, then delivers the outbox
//! after the endpoint's cursor in order, forever; and the pruning of passed events.
//!
//! Order: an event, or a batch of them, is passed (delivered, skipped by the filters, or dead)
//! before the next one is tried, so an endpoint receives events in commit order, and a failing
//! endpoint holds its own queue back (never another endpoint's) until the event or batch is
//! delivered or dead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_metadata::events::{DeadLetter, StoredEvent};
use berth_metadata::{LockName, MetadataStore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::{Notifications, NotifyEndpoint};
use crate::delivery::{attempt, WebhookClient};
use crate::error::EventsError;

/// How often the outbox is read when this process committed nothing: events other nodes
/// commit are found at most this late.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often a node that does not hold an endpoint's lock tries to take it.
const LOCK_RETRY: Duration = Duration::from_secs(5);
/// Longest time events passed while more keep coming go without their cursor saved.
const SAVE_INTERVAL: Duration = Duration::from_secs(1);
/// Events read from the outbox at once, at least; an endpoint's whole batch when larger.
const PAGE: u32 = 100;
/// How long a dispatcher woken by a commit waits before it reads the outbox, when its endpoint
/// sets no longer `batch_wait`: on a busy registry one read then finds the events of many
/// commits rather than one each. Reading costs more than a delivery on a kept-alive
/// connection, so waking and reading per commit made every push cost a third more.
const GATHER: Duration = Duration::from_millis(10);
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
    let client = WebhookClient::new()
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
        info!(endpoint = %endpoint.name, url = %endpoint.url_for_logs(), "event notifications enabled");
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
    client: WebhookClient,
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
    ///
    /// The cursor is saved at most once per `SAVE_INTERVAL`, and at once when events go
    /// dead, not once per event, nor each time the outbox runs dry (with a push every few
    /// milliseconds, that is after every push): on the embedded store every save is a commit
    /// that pushes would otherwise queue behind. The last event passed since the save is
    /// remembered here and the outbox is read on after it, so nothing is delivered twice and
    /// no page is read again; a crash in between delivers those events again (with the same
    /// ids) after the restart.
    async fn deliver(&self) -> Result<std::convert::Infallible, EventsError> {
        let name = self.endpoint.name.as_str();
        let batch_size = self.endpoint.batch_size as usize;
        let page = PAGE.max(self.endpoint.batch_size);
        let mut written = self.meta.watch_events();
        let mut unsaved: Option<i64> = None;
        let mut saved_at = Instant::now();
        // Whether the outbox is known to hold nothing after `unsaved`: then the dispatcher
        // waits for the next write instead of reading.
        let mut drained = false;
        loop {
            if drained {
                if let (true, Some(seq)) = (saved_at.elapsed() >= SAVE_INTERVAL, unsaved) {
                    self.meta.pass_event(name, seq, None).await?;
                    (unsaved, saved_at) = (None, Instant::now());
                }
                let wait = match unsaved {
                    Some(_) => SAVE_INTERVAL.saturating_sub(saved_at.elapsed()),
                    None => {
                        self.report_pending().await?;
                        POLL_INTERVAL
                    }
                };
                let woken = tokio::select! {
                    _ = written.changed() => true,
                    _ = tokio::time::sleep(wait) => false,
                };
                // The first event of a burst waits for the others to join its read (and its
                // batch).
                if woken {
                    tokio::time::sleep(self.endpoint.batch_wait.max(GATHER)).await;
                }
            }
            written.mark_unchanged();
            let events = self.meta.events_after_cursor(name, unsaved, page).await?;
            // A short page held everything committed before the read; unless this process
            // committed more since, reading again would find nothing (other nodes' commits
            // are found by the poll).
            drained = events.len() < page as usize;
            // Accepted events in order, sent `batch_size` at a time; an event the filters skip
            // is passed at once, or with the batch it falls inside.
            let mut batch: Vec<&StoredEvent> = Vec::with_capacity(batch_size);
            for (index, event) in events.iter().enumerate() {
                if self.endpoint.accepts(event) {
                    batch.push(event);
                } else if batch.is_empty() {
                    // The page is in delivery order, which on PostgreSQL is not seq order: the
                    // event passed last is the one to read on after, whatever its seq.
                    unsaved = Some(event.seq);
                }
                let last = index + 1 == events.len();
                if batch.len() < batch_size && !last {
                    continue;
                }
                if !batch.is_empty() {
                    if let Some(dead) = self.deliver_batch(&batch, &mut unsaved).await? {
                        // Each dead letter moves the saved cursor past its event.
                        for gone in &batch {
                            self.meta.pass_event(name, gone.seq, Some(&dead)).await?;
                        }
                        saved_at = Instant::now();
                    }
                    batch.clear();
                }
                unsaved = Some(event.seq);
                // Saved within the interval even while a slow receiver works through a page,
                // so that a crash sends at most about a second of deliveries again.
                if saved_at.elapsed() >= SAVE_INTERVAL {
                    self.meta.pass_event(name, event.seq, None).await?;
                    (unsaved, saved_at) = (None, Instant::now());
                    self.report_pending().await?;
                }
            }
            drained = drained && !written.has_changed().unwrap_or(true);
        }
    }

    /// Sets `berth_events_pending` from the saved cursor.
    async fn report_pending(&self) -> Result<(), EventsError> {
        let name = self.endpoint.name.as_str();
        let pending = self.meta.count_events_after_cursor(name).await?;
        metrics::gauge!("berth_events_pending", "endpoint" => name.to_owned()).set(pending as f64);
        Ok(())
    }

    /// Attempts `batch` (one request) until it is delivered (`None`) or its attempts are
    /// spent (the dead letter of each of its events). A failed attempt first saves the cursor
    /// up to `unsaved` (the events before this batch), so that while an endpoint is down its
    /// pending count is exact.
    async fn deliver_batch(
        &self,
        batch: &[&StoredEvent],
        unsaved: &mut Option<i64>,
    ) -> Result<Option<DeadLetter>, EventsError> {
        let endpoint = &*self.endpoint;
        let label = || ("endpoint", endpoint.name.clone());
        let (first, count) = (&batch[0], batch.len());
        let mut number = 0;
        loop {
            number += 1;
            match attempt(&self.client, endpoint, &self.source, batch).await {
                Ok(()) => {
                    metrics::counter!("berth_events_delivered_total", &[label()])
                        .increment(count as u64);
                    debug!(endpoint = %endpoint.name, id = %first.id, kind = %first.kind, count, "events delivered");
                    return Ok(None);
                }
                Err(error) if number >= endpoint.max_attempts => {
                    metrics::counter!("berth_events_failed_attempts_total", &[label()])
                        .increment(1);
                    metrics::counter!("berth_events_dead_lettered_total", &[label()])
                        .increment(count as u64);
                    warn!(
                        endpoint = %endpoint.name, id = %first.id, kind = %first.kind, count,
                        attempts = number, error = %error, "events given up on"
                    );
                    return Ok(Some(DeadLetter {
                        attempts: number,
                        last_error: error,
                    }));
                }
                Err(error) => {
                    metrics::counter!("berth_events_failed_attempts_total", &[label()])
                        .increment(1);
                    if let Some(seq) = unsaved.take() {
                        self.meta.pass_event(&endpoint.name, seq, None).await?;
                    }
                    let wait = endpoint.backoff_after(number);
                    info!(
                        endpoint = %endpoint.name, id = %first.id, count, attempt = number,
                        error = %error, retry_in_ms = wait.as_millis() as u64,
                        "event delivery failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
