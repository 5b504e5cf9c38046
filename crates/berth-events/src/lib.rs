//! Event notifications: webhooks that tell other systems what changed in the registry.
//!
//! The registry's writes record their events in the metadata store's outbox, in the same
//! transaction as the change (see `berth_metadata::events`). This crate delivers them: one
//! dispatcher per configured endpoint reads the outbox after the endpoint's cursor, in commit
//! order, sends each event the endpoint's filters accept as a CloudEvents 1.0 structured-mode
//! JSON request (`application/cloudevents+json`), signed with HMAC-SHA256 when the endpoint has
//! a secret, retries failures with exponential backoff, records a dead letter after the last
//! attempt, and moves on. Delivery is at least once: a crash between a delivery and the cursor
//! moving sends the event again, with the same `id`.
//!
//! Nodes sharing one PostgreSQL database each run the dispatchers, and a lock in the store
//! (`LockName::EventDelivery`) lets one node at a time deliver to a given endpoint.

mod config;
mod delivery;
mod dispatcher;
mod envelope;
mod error;
mod signature;

pub use config::{
    parse_duration, EndpointSettings, NotificationSettings, Notifications, NotifyEndpoint,
    DURATION_FORM,
};
pub use dispatcher::{prune_periodically, start};
pub use envelope::{envelope, BATCH_CONTENT_TYPE, CONTENT_TYPE};
pub use error::EventsError;
pub use signature::{sign, SIGNATURE_HEADER};
