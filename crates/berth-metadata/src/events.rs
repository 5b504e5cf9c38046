//! The event outbox: what changed in the registry, recorded in the same transaction as the
//! change, so that a committed change always has its event and a rolled-back one never does.
//!
//! Every event has a `seq` (its place in the outbox, increasing in commit order as each
//! backend defines it) and an `id` (a UUID made when it was recorded, the same on every
//! delivery attempt, so that receivers can drop duplicates). Delivery state is kept per
//! endpoint name: a cursor (every event up to it is passed, delivered or dead) and the dead
//! letters (events given up on after their attempts).

use std::sync::Arc;

use berth_oci::{Digest, RepoName, Tag};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::model::NewManifest;

/// `dev.berth.manifest.pushed`: a manifest new to its repository was stored. Data:
/// `repository`, `digest`, `mediaType`, `size` (bytes), `artifactType`, `subject` (digest or
/// null), `tags` (the tags the push set, sorted).
pub const MANIFEST_PUSHED: &str = "dev.berth.manifest.pushed";
/// `dev.berth.tag.moved`: a push created a tag or moved it to another manifest. Data:
/// `repository`, `tag`, `digest`, `previousDigest` (null for a new tag).
pub const TAG_MOVED: &str = "dev.berth.tag.moved";
/// `dev.berth.tag.deleted`: a tag was removed. Data: `repository`, `tag`, `digest` (where it
/// pointed), `reason` (see [`DeletionReason`]).
pub const TAG_DELETED: &str = "dev.berth.tag.deleted";
/// `dev.berth.manifest.deleted`: a manifest was removed with its tags (each also reported as
/// `dev.berth.tag.deleted`). Data: `repository`, `digest`, `mediaType`, `size`,
/// `artifactType`, `subject`, `tags`, `reason`.
pub const MANIFEST_DELETED: &str = "dev.berth.manifest.deleted";
/// `dev.berth.referrer.attached`: a manifest with a `subject` was stored (a signature, an
/// SBOM, an attestation). Data: `repository`, `subject`, `digest`, `mediaType`, `size`,
/// `artifactType`.
pub const REFERRER_ATTACHED: &str = "dev.berth.referrer.attached";
/// `dev.berth.collection.completed`: a garbage collection (not a dry run) finished; its data
/// is the collection's summary (counts and bytes freed).
pub const COLLECTION_COMPLETED: &str = "dev.berth.collection.completed";

/// Every event type Berth records.
pub const EVENT_TYPES: [&str; 6] = [
    MANIFEST_PUSHED,
    TAG_MOVED,
    TAG_DELETED,
    MANIFEST_DELETED,
    REFERRER_ATTACHED,
    COLLECTION_COMPLETED,
];

/// Why something was deleted, as event data says it (`reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletionReason {
    /// A client's `DELETE` request.
    Client,
    /// Garbage collection found it unreachable.
    Collection,
    /// A retention rule expired it.
    Retention,
}

impl DeletionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionReason::Client => "client",
            DeletionReason::Collection => "collection",
            DeletionReason::Retention => "retention",
        }
    }
}

/// An event to record; the store adds its `seq`, `id` and `time`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// One of the type constants of this module, such as [`MANIFEST_PUSHED`].
    pub kind: String,
    /// The repository it concerns; none for registry-wide events (a collection).
    pub repository: Option<String>,
    /// What it is about within the repository: `repo:tag` or `repo@digest`.
    pub subject: Option<String>,
    /// The event's data, a JSON object.
    pub data: Value,
}

/// An event as recorded in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its place in the outbox; delivery follows it.
    pub seq: i64,
    /// A UUID (version 7), the same on every delivery attempt.
    pub id: String,
    pub kind: String,
    pub repository: Option<String>,
    pub subject: Option<String>,
    /// When it was recorded, Unix milliseconds by the store's clock.
    pub time: i64,
    /// The data, JSON object text.
    pub data: String,
}

/// An event an endpoint gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEvent {
    pub event: StoredEvent,
    /// Delivery attempts made.
    pub attempts: u32,
    /// What the last attempt ended with (a status or a connection error).
    pub last_error: String,
    /// When it was given up on, Unix milliseconds by the store's clock.
    pub dead_at: i64,
}

/// Why an endpoint passes an event without delivering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub attempts: u32,
    pub last_error: String,
}

/// A fresh event id: a UUID version 7, so that ids also sort by creation time.
pub(crate) fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl NewEvent {
    fn new(kind: &str, repo: &RepoName, subject: String, data: Value) -> NewEvent {
        NewEvent {
            kind: kind.to_owned(),
            repository: Some(repo.to_string()),
            subject: Some(subject),
            data,
        }
    }

    /// The data text as recorded.
    pub(crate) fn data_text(&self) -> String {
        self.data.to_string()
    }

    /// A collection's summary, recorded by the collector when it finishes.
    pub fn collection_completed(summary: Value) -> NewEvent {
        NewEvent {
            kind: COLLECTION_COMPLETED.to_owned(),
            repository: None,
            subject: None,
            data: summary,
        }
    }

    pub(crate) fn manifest_pushed(repo: &RepoName, m: &NewManifest, tags: &[&str]) -> NewEvent {
        NewEvent::new(
            MANIFEST_PUSHED,
            repo,
            format!("{repo}@{}", m.digest),
            json!({
                "repository": repo.as_str(),
                "digest": m.digest.as_str(),
                "mediaType": m.media_type,
                "size": m.body.len(),
                "artifactType": m.artifact_type,
                "subject": m.subject.as_ref().map(Digest::as_str),
                "tags": tags,
            }),
        )
    }

    pub(crate) fn referrer_attached(
        repo: &RepoName,
        m: &NewManifest,
        subject: &Digest,
    ) -> NewEvent {
        NewEvent::new(
            REFERRER_ATTACHED,
            repo,
            format!("{repo}@{subject}"),
            json!({
                "repository": repo.as_str(),
                "subject": subject.as_str(),
                "digest": m.digest.as_str(),
                "mediaType": m.media_type,
                "size": m.body.len(),
                "artifactType": m.artifact_type,
            }),
        )
    }

    pub(crate) fn tag_moved(
        repo: &RepoName,
        tag: &str,
        digest: &Digest,
        previous: Option<&str>,
    ) -> NewEvent {
        NewEvent::new(
            TAG_MOVED,
            repo,
            format!("{repo}:{tag}"),
            json!({
                "repository": repo.as_str(),
                "tag": tag,
                "digest": digest.as_str(),
                "previousDigest": previous,
            }),
        )
    }

    pub(crate) fn tag_deleted(
        repo: &RepoName,
        tag: &str,
        digest: &str,
        reason: DeletionReason,
    ) -> NewEvent {
        NewEvent::new(
            TAG_DELETED,
            repo,
            format!("{repo}:{tag}"),
            json!({
                "repository": repo.as_str(),
                "tag": tag,
                "digest": digest,
                "reason": reason.as_str(),
            }),
        )
    }

    pub(crate) fn manifest_deleted(
        repo: &RepoName,
        deleted: &DeletedManifest,
        reason: DeletionReason,
    ) -> NewEvent {
        NewEvent::new(
            MANIFEST_DELETED,
            repo,
            format!("{repo}@{}", deleted.digest),
            json!({
                "repository": repo.as_str(),
                "digest": deleted.digest.as_str(),
                "mediaType": deleted.media_type,
                "size": deleted.size,
                "artifactType": deleted.artifact_type,
                "subject": deleted.subject,
                "tags": deleted.tags,
                "reason": reason.as_str(),
            }),
        )
    }
}

/// What a manifest deletion removed, read by the deleting statements themselves.
#[derive(Debug, Clone)]
pub(crate) struct DeletedManifest {
    pub digest: Digest,
    pub media_type: String,
    pub size: i64,
    pub artifact_type: Option<String>,
    pub subject: Option<String>,
    /// Sorted.
    pub tags: Vec<String>,
}

impl DeletedManifest {
    /// The manifest's event followed by one per tag it took along.
    pub(crate) fn events(&self, repo: &RepoName, reason: DeletionReason) -> Vec<NewEvent> {
        let mut events = vec![NewEvent::manifest_deleted(repo, self, reason)];
        events.extend(
            self.tags
                .iter()
                .map(|tag| NewEvent::tag_deleted(repo, tag, self.digest.as_str(), reason)),
        );
        events
    }
}

/// The events of a manifest push: `pushed` and `attached` when the manifest is new, and one
/// `tag.moved` per tag whose target changed (`previous` gives each tag's target before the
/// push, none for a new tag). `tags` sorted and without repeats.
pub(crate) fn push_events(
    repo: &RepoName,
    manifest: &NewManifest,
    inserted: bool,
    tags: &[&str],
    previous: &[(String, String)],
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    if inserted {
        events.push(NewEvent::manifest_pushed(repo, manifest, tags));
        if let Some(subject) = &manifest.subject {
            events.push(NewEvent::referrer_attached(repo, manifest, subject));
        }
    }
    for tag in tags {
        let before = previous
            .iter()
            .find(|(name, _)| name == tag)
            .map(|(_, digest)| digest.as_str());
        if before != Some(manifest.digest.as_str()) {
            events.push(NewEvent::tag_moved(repo, tag, &manifest.digest, before));
        }
    }
    events
}

/// Tags sorted and without repeats, as events list them.
pub(crate) fn sorted_tags(tags: &[Tag]) -> Vec<&str> {
    let mut names: Vec<&str> = tags.iter().map(Tag::as_str).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Wakes this process's event dispatchers after it commits events (other processes sharing
/// the store are seen by polling). Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct EventSignal(Arc<watch::Sender<u64>>);

impl Default for EventSignal {
    fn default() -> Self {
        EventSignal(Arc::new(watch::channel(0).0))
    }
}

impl EventSignal {
    pub(crate) fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}
