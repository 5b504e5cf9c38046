//! Online, reference-aware garbage collection: `Registry::gc` is the one entry point used by
//! the scheduled task, the admin endpoint and `berth gc`.
//!
//! It runs while the registry serves. Marking reads edges only; every deletion re-checks, in
//! its own transaction, that its target is still unreachable, so a push that made it reachable
//! meanwhile wins, and a push that depends on something already deleted fails cleanly.

mod blobs;
mod forecast;
mod manifests;
pub(crate) mod mark;
mod options;
mod report;
mod retention;

pub use options::{GcOptions, OrphanedReferrers, Untagged};
pub use report::{CollectedManifest, CollectedTag, GcReport};
pub use retention::RetentionRule;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_metadata::LockName;
use berth_oci::RepoName;
use tracing::info;

use crate::error::Result;
use crate::Registry;

/// Deletions in flight at once: they share commits in the metadata writer's batches.
const IN_FLIGHT: usize = 64;

/// A duration in whole milliseconds, saturating: a delay of millions of years is "forever",
/// never a wrapped negative number that would make everything old enough to delete.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A point in time in milliseconds since the Unix epoch (0 for times before it).
fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(millis)
        .unwrap_or_default()
}

/// How a collection waits for its turn.
#[derive(Debug, Clone, Copy)]
enum Turn {
    /// Waits for a running collection to finish, then runs.
    Wait,
    /// Runs unless a collection runs now.
    UnlessRunning,
    /// Runs unless a collection runs now or one started within the interval.
    Scheduled(Duration),
}

impl Registry {
    /// Collects garbage once: unreachable manifests, blob links no manifest uses, blobs no
    /// repository links, each older than the grace period, and upload sessions older than the
    /// configured upload expiry (a collection never cuts short a session a client may resume).
    ///
    /// A dry run deletes nothing and reports exactly what a real run would delete on the same
    /// state: the manifests it dooms, and the links and blobs their deletion would free.
    ///
    /// Collections run one at a time across every node sharing the metadata store (a lock in
    /// the store; two would only race each other for the same work, each deletion being safe
    /// on its own); a second waits for the first.
    /// Ages are judged by the metadata store's clock.
    ///
    /// The collection runs in a task of its own: when the caller goes away (a client that
    /// disconnects from `POST /berth/v1/gc`), it still finishes, invalidates the read caches
    /// of what it deleted, and records its report.
    pub async fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        let options = options.clone();
        self.spawn_collection(options, Turn::Wait)
            .await
            .map(|report| report.expect("a waiting collection always runs"))
    }

    /// Collects as `gc` does unless another collection runs now, on any node: then returns
    /// `None` at once. The scheduled collection of every node calls this, so that nodes
    /// scheduled together run one collection, not one after another.
    pub async fn gc_unless_running(&self, options: &GcOptions) -> Result<Option<GcReport>> {
        self.spawn_collection(options.clone(), Turn::UnlessRunning)
            .await
    }

    /// The scheduled collection of a node whose timer fires every `interval`: collects as
    /// `gc_unless_running` does, and only when no collection started within (nine tenths of)
    /// `interval` on any node, by the metadata store's clock. Nodes sharing the metadata thus
    /// run one scheduled collection per interval between them, whichever timer fires first.
    pub async fn gc_on_schedule(
        &self,
        options: &GcOptions,
        interval: Duration,
    ) -> Result<Option<GcReport>> {
        self.spawn_collection(options.clone(), Turn::Scheduled(interval))
            .await
    }

    async fn spawn_collection(&self, options: GcOptions, turn: Turn) -> Result<Option<GcReport>> {
        let registry = self.clone();
        let task = async move {
            let lease = match turn {
                Turn::Wait => registry.meta.lock(&LockName::Collection).await?,
                Turn::UnlessRunning | Turn::Scheduled(_) => {
                    match registry.meta.try_lock(&LockName::Collection).await? {
                        Some(lease) => lease,
                        None => return Ok(None),
                    }
                }
            };
            if let Turn::Scheduled(interval) = turn {
                // Claimed under the lease, so that a claimed turn is always run. A little
                // slack keeps timers that fire a moment early from losing their turn.
                let due = millis(interval).saturating_mul(9) / 10;
                if !registry.meta.claim_scheduled_run("collection", due).await? {
                    return Ok(None);
                }
            }
            let report = registry.collect(&options).await;
            drop(lease);
            report.map(Some)
        };
        match tokio::spawn(task).await {
            Ok(report) => report,
            Err(e) => Err(crate::RegistryError::Metadata(
                berth_metadata::MetadataError::CommitFailed(format!(
                    "the collection task ended: {e}"
                )),
            )),
        }
    }

    async fn collect(&self, options: &GcOptions) -> Result<GcReport> {
        info!(dry_run = options.dry_run, "garbage collection started");
        let started = std::time::Instant::now();
        let cutoff = self
            .meta
            .now_millis()
            .await?
            .saturating_sub(millis(options.grace));
        let mut report = GcReport {
            dry_run: options.dry_run,
            ..GcReport::default()
        };
        let mut doomed = Vec::new();
        for repo in self.all_repositories().await? {
            let manifests = self
                .collect_manifests(&repo, cutoff, options, &mut report)
                .await?;
            doomed.push((repo, manifests));
        }
        if options.dry_run {
            self.foresee_blobs(cutoff, &doomed, &mut report).await?;
        } else {
            self.collect_blobs(cutoff, &mut report).await?;
        }
        self.collect_unrecorded_blobs(options, &mut report).await?;
        report.uploads_expired = if options.dry_run {
            self.expiring_uploads(self.config.upload_expiry).await?
        } else {
            self.expire_uploads(self.config.upload_expiry).await?
        };
        report.sort();
        report.duration_ms = started.elapsed().as_millis() as u64;
        report.finished_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        crate::metrics::collection_finished(&report);
        info!(
            dry_run = report.dry_run,
            manifests_deleted = report.manifests_deleted,
            tags_deleted = report.tags_deleted,
            blobs_deleted = report.blobs_deleted,
            bytes_freed = report.bytes_freed,
            links_removed = report.links_removed,
            uploads_expired = report.uploads_expired,
            duration_ms = report.duration_ms,
            "garbage collection finished"
        );
        if !report.dry_run {
            self.record_collection(&report).await;
            *self.last_gc.lock().expect("last report lock") = Some(report.clone());
        }
        Ok(report)
    }

    /// Records the `collection.completed` event (the summary; each deletion recorded its own
    /// event). The collection happened whether or not this succeeds, so a failure is logged.
    async fn record_collection(&self, report: &GcReport) {
        let summary = serde_json::json!({
            "manifestsDeleted": report.manifests_deleted,
            "tagsDeleted": report.tags_deleted,
            "blobsDeleted": report.blobs_deleted,
            "bytesFreed": report.bytes_freed,
            "linksRemoved": report.links_removed,
            "uploadsExpired": report.uploads_expired,
            "durationMs": report.duration_ms,
            "finishedAt": report.finished_at,
        });
        let event = berth_metadata::events::NewEvent::collection_completed(summary);
        if let Err(e) = self.meta.append_event(&event).await {
            tracing::warn!(error = %e, "recording the collection's event failed");
        }
    }

    /// The report of the last collection that deleted since start-up, if one has finished;
    /// answered at once, also while a collection runs.
    pub fn last_gc(&self) -> Option<GcReport> {
        self.last_gc.lock().expect("last report lock").clone()
    }

    async fn all_repositories(&self) -> Result<Vec<RepoName>> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|r: &RepoName| r.as_str().to_owned());
            let page = self
                .meta
                .list_repositories(after.as_deref(), 10_000)
                .await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }
}

#[cfg(test)]
mod tests;
