//! What the admin endpoint shows of event notifications: per configured endpoint, the events
//! still to deliver and the dead letters (see `berth_metadata::events` for the outbox).

use std::time::{Duration, UNIX_EPOCH};

use berth_metadata::events::{DeadEvent, StoredEvent};
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::Registry;

/// One endpoint's delivery state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointDeliveries {
    /// The endpoint's configured name.
    pub name: String,
    /// How many committed events it has not passed yet (some may be filtered out).
    pub pending: u64,
    /// The first of those, oldest first.
    pub pending_events: Vec<OutboxEvent>,
    /// Events given up on after their attempts, oldest first.
    pub dead: Vec<DeadOutboxEvent>,
}

/// An outbox event as listed.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEvent {
    pub seq: i64,
    /// The CloudEvents `id` it is (or was) delivered with.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub repository: Option<String>,
    pub subject: Option<String>,
    /// RFC 3339.
    pub time: String,
    pub data: Value,
}

/// A dead letter as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadOutboxEvent {
    #[serde(flatten)]
    pub event: OutboxEvent,
    pub attempts: u32,
    pub last_error: String,
    /// RFC 3339.
    pub dead_at: String,
}

fn rfc3339(millis: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(millis.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

impl From<StoredEvent> for OutboxEvent {
    fn from(event: StoredEvent) -> OutboxEvent {
        OutboxEvent {
            seq: event.seq,
            data: serde_json::from_str(&event.data).unwrap_or(Value::Null),
            id: event.id,
            kind: event.kind,
            repository: event.repository,
            subject: event.subject,
            time: rfc3339(event.time),
        }
    }
}

impl From<DeadEvent> for DeadOutboxEvent {
    fn from(dead: DeadEvent) -> DeadOutboxEvent {
        DeadOutboxEvent {
            event: dead.event.into(),
            attempts: dead.attempts,
            last_error: dead.last_error,
            dead_at: rfc3339(dead.dead_at),
        }
    }
}

impl Registry {
    /// The delivery state of every configured notification endpoint, in configuration order,
    /// each list holding at most `limit` events.
    pub async fn event_deliveries(&self, limit: u32) -> Result<Vec<EndpointDeliveries>> {
        let mut endpoints = Vec::new();
        for name in &self.config.notification_endpoints {
            endpoints.push(EndpointDeliveries {
                name: name.clone(),
                pending: self.meta.count_events_after_cursor(name).await?,
                pending_events: (self.meta.events_after_cursor(name, None, limit).await?)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                dead: (self.meta.dead_events(name, limit).await?)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
            });
        }
        Ok(endpoints)
    }
}
