//! The one error type of event notifications.

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The `[notifications]` configuration is refused; the message says which key and why.
    #[error("notifications: {0}")]
    Config(String),
    #[error(transparent)]
    Metadata(#[from] berth_metadata::MetadataError),
}
