//! The `MetadataStore` trait every backend implements.

use async_trait::async_trait;
use berth_oci::{Digest, RepoName, Tag, UploadId};

use crate::browse::BrowseReads;
use crate::coordination::{LockGuard, LockName};
use crate::error::Result;
use crate::events::{DeadEvent, DeadLetter, NewEvent, StoredEvent};
use crate::model::{
    ManifestGraph, NewManifest, Precondition, Referrer, ReferrerCursor, ReferrerOrder,
    StoredManifest, UploadRecord,
};
use crate::operations::{QuarantinedBlob, RepositoryUsage};
use crate::stats::ContentStats;

/// Transactional registry metadata. Every method is atomic: it happens whole or not at all.
/// The browse API's reads live in [`BrowseReads`], which every store implements too.
#[async_trait]
pub trait MetadataStore: BrowseReads + Send + Sync + 'static {
    /// Takes the lock `name`, waiting while another holder has it, in this process or in any
    /// other sharing the store. Released when the guard drops.
    async fn lock(&self, name: &LockName<'_>) -> Result<LockGuard>;

    /// Takes the lock `name` when it is free; `None` while another holder has it.
    async fn try_lock(&self, name: &LockName<'_>) -> Result<Option<LockGuard>>;

    /// Milliseconds since the Unix epoch by the store's clock. Every node judges ages (upload
    /// expiry, grace periods, retention) by this one clock rather than by its own.
    async fn now_millis(&self) -> Result<i64>;

    /// Claims this turn of the scheduled task `name` (e.g. `collection`): true, recording the
    /// store's time, when the task has not started within the last `interval_ms` milliseconds
    /// (by the store's clock), else false. Every node sharing the store runs the same schedule,
    /// and exactly one of them gets each turn. A store one process opens answers true: its one
    /// timer is the schedule.
    async fn claim_scheduled_run(&self, _name: &str, _interval_ms: i64) -> Result<bool> {
        Ok(true)
    }

    /// Whether the store can serve: it answers a query and its schema has every migration this
    /// build needs (for `GET /readyz`). Errors: the store's own when it cannot be reached,
    /// `NotReady` naming the versions when the schema is behind.
    async fn check_ready(&self) -> Result<()>;

    /// Counts of what the store holds (see [`ContentStats`]). Each call counts whole tables'
    /// indexes, so callers serving metrics cache it (the registry refreshes at most every
    /// 30 s) rather than reading it per scrape.
    async fn content_stats(&self) -> Result<ContentStats>;

    /// Whether other processes may write the store while this one runs (several nodes on one
    /// database). Then nothing read from it may be served again without a check.
    fn shared(&self) -> bool;

    /// Whether the repository has ever had content (a blob, a manifest or an upload).
    async fn repository_exists(&self, repo: &RepoName) -> Result<bool>;

    /// Names of the repositories that hold at least one manifest, in lexical order, strictly
    /// after `after`, at most `limit`: a repository whose manifests are all deleted leaves the
    /// catalog at once.
    async fn list_repositories(&self, after: Option<&str>, limit: u32) -> Result<Vec<RepoName>>;

    /// Size of a blob known to the registry in any repository.
    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>>;

    /// Size of a blob when it is linked into `repo`, else `None`.
    async fn linked_blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>>;

    /// Links a committed blob into `repo` (recording the blob when new); idempotent.
    async fn link_blob(&self, repo: &RepoName, digest: &Digest, size: u64) -> Result<()>;

    /// Removes the link of a blob from `repo`; false when it was not linked.
    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool>;

    /// Repositories into which a blob is linked, in lexical order.
    async fn repositories_with_blob(&self, digest: &Digest) -> Result<Vec<RepoName>>;

    /// Stores a manifest, its edges and `tags` in one transaction. Fails, storing nothing, with
    /// `MissingBlob` or `MissingChild` when a reference is not in the repository, with
    /// `MissingSubject` when the manifest needs its subject present and it is not, and with
    /// `PreconditionFailed` when `precondition` does not hold for its target (a tag: where it
    /// points now; a digest: the manifest) in this transaction. Storing a manifest that exists
    /// already only moves the tags.
    async fn put_manifest(
        &self,
        repo: &RepoName,
        manifest: &NewManifest,
        tags: &[Tag],
        precondition: Option<&Precondition>,
    ) -> Result<()>;

    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<StoredManifest>>;

    async fn manifest_by_tag(&self, repo: &RepoName, tag: &Tag) -> Result<Option<StoredManifest>>;

    /// Manifests in `repo` whose `subject` is `subject`, in `order`, strictly after `after`, at
    /// most `limit`; when `artifact_types` is not empty, only those of these types. Served from
    /// the referrers index: the cost follows the page, not the repository.
    async fn list_referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_types: &[String],
        order: ReferrerOrder,
        after: Option<&ReferrerCursor>,
        limit: u32,
    ) -> Result<Vec<Referrer>>;

    /// Tags in lexical order (case-insensitive, ties by byte order), strictly after `after`.
    async fn list_tags(
        &self,
        repo: &RepoName,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>>;

    /// Removes a tag; false when it did not exist. The manifest stays. Fails with
    /// `PreconditionFailed`, removing nothing, when `precondition` does not hold.
    async fn delete_tag(
        &self,
        repo: &RepoName,
        tag: &Tag,
        precondition: Option<&Precondition>,
    ) -> Result<bool>;

    /// Removes a manifest with its tags and edges; false when it did not exist. Fails with
    /// `PreconditionFailed`, removing nothing, when `precondition` does not hold.
    async fn delete_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        precondition: Option<&Precondition>,
    ) -> Result<bool>;

    /// Records a new upload session (and the repository, when new).
    async fn create_upload(&self, upload: &UploadRecord) -> Result<()>;

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>>;

    /// Ends an upload session; false when there was none.
    async fn delete_upload(&self, id: &UploadId) -> Result<bool>;

    /// Ends an upload session and links its verified blob into the session's repository, in
    /// one transaction; false (and nothing linked) when the session no longer exists.
    async fn complete_upload(&self, id: &UploadId, digest: &Digest, size: u64) -> Result<bool>;

    /// Upload sessions created before `before` (Unix milliseconds).
    async fn uploads_created_before(&self, before: i64) -> Result<Vec<UploadRecord>>;

    /// The manifests, tags and index edges of `repo`, for garbage collection.
    async fn manifest_graph(&self, repo: &RepoName) -> Result<ManifestGraph>;

    /// The part of `repo`'s manifest graph that decides whether `seeds` live: the seeds and
    /// every manifest of `repo` they can be reached from (their subjects and the indexes that
    /// list them, transitively), with those manifests' tags and the index edges into them.
    /// Liveness only flows down those edges, so marking this graph says of each seed what
    /// marking the whole repository says, at the cost of the seeds' ancestry rather than of
    /// the repository. The climb stops at manifests a tag holds (a tag other than
    /// `removed_tag`, the one whose deletion is being judged): they live whatever is above
    /// them. Seeds that are not manifests of `repo` are left out. Read in one snapshot.
    async fn ancestry_graph(
        &self,
        repo: &RepoName,
        seeds: &[Digest],
        removed_tag: Option<&str>,
    ) -> Result<ManifestGraph>;

    /// Deletes a manifest the collector found unreachable, only if, in the same transaction,
    /// no tag points at it, no index lists it, and its subject (when it has one) is gone.
    /// A push that made it reachable meanwhile wins: false, nothing deleted.
    async fn delete_unreachable_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool>;

    /// Blob links older than `before` (Unix ms) that no manifest of their repository uses.
    async fn unreferenced_links(&self, before: i64) -> Result<Vec<(RepoName, Digest)>>;

    /// Removes such a link only if, in the same transaction, it is still unreferenced.
    async fn unlink_unreferenced(
        &self,
        repo: &RepoName,
        digest: &Digest,
        before: i64,
    ) -> Result<bool>;

    /// Blobs created before `before` that no repository links, with their sizes.
    async fn unlinked_blobs(&self, before: i64) -> Result<Vec<(Digest, u64)>>;

    /// Blob links of `repo` linked before `before` (Unix ms) that only `manifests` (digests
    /// in `repo`; absent ones and repeats are ignored) reference: the links
    /// `unreferenced_links(before)` would add for `repo` once those manifests were deleted.
    /// Links no manifest references already are not listed. Digests in lexical order. A dry
    /// run reads this instead of deleting, so that it reports what a real run would unlink.
    async fn links_unreferenced_without(
        &self,
        repo: &RepoName,
        manifests: &[Digest],
        before: i64,
    ) -> Result<Vec<Digest>>;

    /// Of the blobs `links` (repository, blob) name, those created before `before` (Unix ms)
    /// that no repository links except through `links`, with their sizes in bytes, in digest
    /// order: what `unlinked_blobs(before)` would add once `unlink_unreferenced` removed those
    /// links. A dry run reads this instead of unlinking.
    async fn blobs_unlinked_without(
        &self,
        links: &[(RepoName, Digest)],
        before: i64,
    ) -> Result<Vec<(Digest, u64)>>;

    /// Forgets a blob only if, in the same transaction, no repository links it; the caller
    /// then deletes its bytes.
    async fn forget_unlinked_blob(&self, digest: &Digest) -> Result<bool>;

    /// Deletes a tag for retention, only if it still points at `digest` and has not moved
    /// since `updated_at`: a push that re-tagged it meanwhile wins.
    async fn delete_tag_if_unchanged(
        &self,
        repo: &RepoName,
        tag: &str,
        digest: &Digest,
        updated_at: i64,
    ) -> Result<bool>;

    /// Deletes a referrer superseded by newer ones of its type, only if no tag points at it and
    /// no index lists it.
    async fn delete_superseded_referrer(&self, repo: &RepoName, digest: &Digest) -> Result<bool>;

    /// Recorded blobs (linked or not, quarantined or not) with their sizes in bytes, in digest
    /// order strictly after `after`, at most `limit`: the scrub's walk, resumable from the last
    /// digest it checked.
    async fn blobs_after(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<(Digest, u64)>>;

    /// Quarantines a blob whose bytes are corrupt or missing: from the next read on,
    /// `linked_blob_size` answers `None` for it in every repository, so that it is neither
    /// served nor mounted, until `complete_upload` of the same digest (the right bytes pushed
    /// again) lifts the quarantine. Again on a quarantined blob only replaces `reason`.
    async fn quarantine_blob(&self, digest: &Digest, reason: &str) -> Result<()>;

    /// Every quarantined blob, in digest order.
    async fn quarantined_blobs(&self) -> Result<Vec<QuarantinedBlob>>;

    /// The state a long task saved under `name` (e.g. `scrub`), if any.
    async fn checkpoint(&self, name: &str) -> Result<Option<String>>;

    /// Saves (replacing) or, with `None`, removes the state of the task `name`.
    async fn save_checkpoint(&self, name: &str, state: Option<&str>) -> Result<()>;

    /// Storage usage of every repository that has content (a manifest or a blob link), in
    /// name order, in one query.
    async fn repository_usage(&self) -> Result<Vec<RepositoryUsage>>;
    /// Records `event` in the outbox in a transaction of its own. The registry's own writes
    /// record their events themselves, in their transactions (push: `manifest.pushed`,
    /// `referrer.attached`, `tag.moved`; every deletion: `manifest.deleted`, `tag.deleted`);
    /// this is for summaries such as `collection.completed`.
    async fn append_event(&self, event: &NewEvent) -> Result<()>;

    /// Starts the delivery cursor of `endpoint` after the last event committed so far, unless
    /// it has one already: a newly configured endpoint receives what happens from now on.
    /// Idempotent.
    async fn open_event_cursor(&self, endpoint: &str) -> Result<()>;

    /// Up to `limit` events after the cursor of `endpoint` (all of them when it has none), in
    /// delivery order: commit order, so that no event committing later can come before one
    /// already returned. An event whose transaction may still commit or roll back is not
    /// returned yet.
    ///
    /// `after`, when given, is the seq of an event this returned for `endpoint` before and the
    /// reader has passed without saving the cursor yet: the events after it are returned, so
    /// that a dispatcher saving its cursor once a second does not read the same page again
    /// after every event.
    async fn events_after_cursor(
        &self,
        endpoint: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>>;

    /// Moves the cursor of `endpoint` past the event `seq` (one `events_after_cursor`
    /// returned), recording it as a dead letter of the endpoint when `dead` is given, in one
    /// transaction. Never moves a cursor back.
    async fn pass_event(&self, endpoint: &str, seq: i64, dead: Option<&DeadLetter>) -> Result<()>;

    /// How many committed events are after the cursor of `endpoint`.
    async fn count_events_after_cursor(&self, endpoint: &str) -> Result<u64>;

    /// The dead letters of `endpoint`, oldest event first, at most `limit`.
    async fn dead_events(&self, endpoint: &str, limit: u32) -> Result<Vec<DeadEvent>>;

    /// Deletes the events recorded before `before` (Unix ms) that the cursor of every one of
    /// `endpoints` has passed, and dead letters recorded before `before`. Returns how many
    /// events went. With no endpoints, every event older than `before` goes.
    async fn prune_events(&self, endpoints: &[String], before: i64) -> Result<u64>;

    /// Changes after this process commits events (to wake its dispatchers at once; events
    /// other processes commit are found by polling `events_after_cursor`).
    fn watch_events(&self) -> tokio::sync::watch::Receiver<u64>;
}
