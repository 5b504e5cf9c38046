//! Online, reference-aware garbage collection: `Registry::gc` is the one entry point used by
//! the scheduled task, the admin endpoint and `berth gc`.
//!
//! It runs while the registry serves. Marking reads edges only; every deletion re-checks, in
//! its own transaction, that its target is still unreachable, so a push that made it reachable
//! meanwhile wins, and a push that depends on something already deleted fails cleanly.

mod mark;
mod retention;

pub use retention::RetentionRule;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_blobstore::BlobStoreError;
use berth_oci::{Digest, RepoName};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use futures::future::try_join_all;

use crate::error::Result;
use crate::Registry;

/// Deletions in flight at once: they share commits in the metadata writer's batches.
const IN_FLIGHT: usize = 64;

/// What happens to manifests no tag reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Untagged {
    /// Kept (the default): only orphaned referrers are collected.
    #[default]
    Keep,
    /// Collected after the grace period unless an index or a subject keeps them alive.
    Delete,
}

/// What happens to a referrer whose subject is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrphanedReferrers {
    /// Collected with its own referrers (the default): a signature lives as long as its subject.
    #[default]
    Delete,
    /// Kept, for audit.
    Keep,
    /// Kept for this long after the subject was deleted, then collected.
    After(Duration),
}

impl std::str::FromStr for Untagged {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "keep" => Ok(Untagged::Keep),
            "delete" => Ok(Untagged::Delete),
            other => Err(format!(
                "untagged must be \"keep\" or \"delete\", not {other:?}"
            )),
        }
    }
}

impl std::str::FromStr for OrphanedReferrers {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "delete" => Ok(OrphanedReferrers::Delete),
            "keep" => Ok(OrphanedReferrers::Keep),
            other => humantime::parse_duration(other)
                .map(OrphanedReferrers::After)
                .map_err(|_| {
                    format!(
                        "orphaned_referrers must be \"delete\", \"keep\" or a delay such as \"7d\", not {other:?}"
                    )
                }),
        }
    }
}

/// How a collection behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Report what would be deleted without deleting anything.
    pub dry_run: bool,
    /// Nothing pushed, linked or uploaded more recently than this is collected.
    pub grace: Duration,
    /// The policy for repositories no retention rule gives one.
    pub untagged: Untagged,
    /// The policy for repositories no retention rule gives one.
    pub orphaned_referrers: OrphanedReferrers,
    /// Tag and referrer retention, and policy overrides, per repository pattern.
    pub retention: Vec<RetentionRule>,
}

impl GcOptions {
    /// The rules whose pattern matches `repo`, in the order they were given.
    fn rules_for(&self, repo: &RepoName) -> Vec<&RetentionRule> {
        self.retention
            .iter()
            .filter(|r| r.repositories.matches(repo.as_str()))
            .collect()
    }
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            dry_run: false,
            grace: Duration::from_secs(3600),
            untagged: Untagged::default(),
            orphaned_referrers: OrphanedReferrers::default(),
            retention: Vec::new(),
        }
    }
}

/// A tag a collection deleted (or would delete) by retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectedTag {
    pub repository: String,
    pub tag: String,
}

/// A manifest a collection deleted (or would delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectedManifest {
    pub repository: String,
    pub digest: String,
}

/// What a collection deleted, or would delete in a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    pub dry_run: bool,
    /// When the collection ended, RFC 3339.
    pub finished_at: String,
    pub manifests_deleted: usize,
    pub tags_deleted: usize,
    pub blobs_deleted: usize,
    pub bytes_freed: u64,
    pub links_removed: usize,
    pub uploads_expired: usize,
    pub manifests: Vec<CollectedManifest>,
    pub tags: Vec<CollectedTag>,
    pub blobs: Vec<String>,
    pub duration_ms: u64,
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Registry {
    /// Collects garbage once: unreachable manifests, blob links no manifest uses, blobs no
    /// repository links, and abandoned uploads, each older than the grace period.
    ///
    /// Collections run one at a time (a scheduled one and one asked for through the endpoint
    /// would otherwise race each other for the same work); a second waits for the first.
    pub async fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        let _one_at_a_time = self.collecting.lock().await;
        let started = std::time::Instant::now();
        let cutoff = now_millis() - options.grace.as_millis() as i64;
        let mut report = GcReport {
            dry_run: options.dry_run,
            ..GcReport::default()
        };
        for repo in self.all_repositories().await? {
            self.collect_manifests(&repo, cutoff, options, &mut report)
                .await?;
        }
        self.collect_blobs(cutoff, options, &mut report).await?;
        self.collect_unrecorded_blobs(options, &mut report).await?;
        if !options.dry_run {
            report.uploads_expired = self.expire_uploads(options.grace).await?;
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        report.finished_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
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
            *self.last_gc.lock().expect("last report lock") = Some(report.clone());
        }
        Ok(report)
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

    async fn collect_manifests(
        &self,
        repo: &RepoName,
        cutoff: i64,
        options: &GcOptions,
        report: &mut GcReport,
    ) -> Result<()> {
        let rules = options.rules_for(repo);
        let mut graph = self.meta.manifest_graph(repo).await?;
        self.apply_retention(repo, &rules, &mut graph, cutoff, options.dry_run, report)
            .await?;
        // The first matching rule that sets a policy wins over the global one.
        let untagged = rules
            .iter()
            .find_map(|r| r.untagged)
            .unwrap_or(options.untagged);
        let orphans = rules
            .iter()
            .find_map(|r| r.orphaned_referrers)
            .unwrap_or(options.orphaned_referrers);
        let mut remaining = mark::doomed(&graph, cutoff, now_millis(), untagged, orphans);
        if options.dry_run {
            report
                .manifests
                .extend(remaining.iter().map(|d| collected(repo, d)));
            report.manifests_deleted += remaining.len();
            return Ok(());
        }
        self.pause_at("gc.manifests_marked").await;
        // Parents before children and subjects before referrers: each pass deletes what its
        // guard allows, until a pass deletes nothing (what is left became reachable again).
        while !remaining.is_empty() {
            let before = remaining.len();
            let mut kept = Vec::new();
            let mut outcomes = Vec::with_capacity(remaining.len());
            for chunk in remaining.chunks(IN_FLIGHT) {
                let deletes = chunk
                    .iter()
                    .map(|digest| self.meta.delete_unreachable_manifest(repo, digest));
                outcomes.extend(chunk.iter().cloned().zip(try_join_all(deletes).await?));
            }
            for (digest, deleted) in outcomes {
                if deleted {
                    report.manifests.push(collected(repo, &digest));
                    report.manifests_deleted += 1;
                } else {
                    kept.push(digest);
                }
            }
            if kept.len() == before {
                break;
            }
            remaining = kept;
        }
        self.generations.bump(repo);
        Ok(())
    }

    /// Deletes the tags and superseded referrers the matching rules expire, and removes them
    /// from `graph` so that marking sees the repository as it now is.
    async fn apply_retention(
        &self,
        repo: &RepoName,
        rules: &[&RetentionRule],
        graph: &mut berth_metadata::ManifestGraph,
        cutoff: i64,
        dry_run: bool,
        report: &mut GcReport,
    ) -> Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        for tag in retention::expired_tags(graph, rules, now_millis(), cutoff) {
            let deleted = dry_run
                || self
                    .meta
                    .delete_tag_if_unchanged(repo, &tag.name, &tag.digest, tag.updated_at)
                    .await?;
            if deleted {
                report.tags.push(CollectedTag {
                    repository: repo.to_string(),
                    tag: tag.name.clone(),
                });
                report.tags_deleted += 1;
                graph.tags.retain(|t| t.name != tag.name);
            }
        }
        for digest in retention::superseded_referrers(graph, rules, cutoff) {
            if dry_run || self.meta.delete_superseded_referrer(repo, &digest).await? {
                report.manifests.push(collected(repo, &digest));
                report.manifests_deleted += 1;
                graph.manifests.retain(|m| m.digest != digest);
            }
        }
        if !dry_run {
            self.generations.bump(repo);
        }
        Ok(())
    }

    async fn collect_blobs(
        &self,
        cutoff: i64,
        options: &GcOptions,
        report: &mut GcReport,
    ) -> Result<()> {
        let links = self.meta.unreferenced_links(cutoff).await?;
        if !options.dry_run {
            self.pause_at("gc.links_listed").await;
            for chunk in links.chunks(IN_FLIGHT) {
                let unlinks = chunk
                    .iter()
                    .map(|(repo, digest)| self.meta.unlink_unreferenced(repo, digest, cutoff));
                report.links_removed += try_join_all(unlinks)
                    .await?
                    .into_iter()
                    .filter(|removed| *removed)
                    .count();
            }
        } else {
            report.links_removed = links.len();
        }
        let mut candidates = self.meta.unlinked_blobs(cutoff).await?;
        if options.dry_run {
            // A blob all of whose links the real run removes is collected in that same run.
            let mut digests: Vec<&Digest> = links.iter().map(|(_, d)| d).collect();
            digests.sort();
            digests.dedup();
            for digest in digests {
                let holders = self.meta.repositories_with_blob(digest).await?;
                let all_unreferenced = holders
                    .iter()
                    .all(|r| links.contains(&(r.clone(), digest.clone())));
                if let (true, Some(size)) = (all_unreferenced, self.meta.blob_size(digest).await?) {
                    candidates.push((digest.clone(), size));
                }
            }
            candidates.sort();
            candidates.dedup();
            for (digest, size) in candidates {
                report.blobs.push(digest.to_string());
                report.blobs_deleted += 1;
                report.bytes_freed += size;
            }
            return Ok(());
        }
        // Blobs whose last link went just now are past the grace period too: look again.
        candidates = self.meta.unlinked_blobs(cutoff).await?;
        self.pause_at("gc.blobs_listed").await;
        let mut outcomes = Vec::with_capacity(candidates.len());
        for chunk in candidates.chunks(IN_FLIGHT) {
            let deletes = chunk
                .iter()
                .map(|(digest, _)| self.delete_unlinked_blob(digest));
            let deleted = try_join_all(deletes).await?;
            outcomes.extend(
                chunk
                    .iter()
                    .zip(deleted)
                    .map(|((d, size), gone)| (d.clone(), *size, gone)),
            );
        }
        for (digest, size, _) in outcomes.into_iter().filter(|(_, _, deleted)| *deleted) {
            report.blobs.push(digest.to_string());
            report.blobs_deleted += 1;
            report.bytes_freed += size;
        }
        Ok(())
    }

    /// Deletes blob files that metadata never recorded (a crash between an upload's commit and
    /// its link leaves such files), older than the grace period, under each blob's lock.
    async fn collect_unrecorded_blobs(
        &self,
        options: &GcOptions,
        report: &mut GcReport,
    ) -> Result<()> {
        let cutoff = SystemTime::now() - options.grace;
        for (digest, committed) in self.blobs.list_blobs().await? {
            if committed > cutoff {
                continue;
            }
            let _locked = self.blob_locks.lock(&digest).await;
            if self.meta.blob_size(&digest).await?.is_some() {
                continue;
            }
            let size = match self.blobs.stat(&digest).await {
                Ok(size) => size,
                Err(BlobStoreError::BlobNotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            if !options.dry_run {
                match self.blobs.delete(&digest).await {
                    Ok(()) | Err(BlobStoreError::BlobNotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            report.blobs.push(digest.to_string());
            report.blobs_deleted += 1;
            report.bytes_freed += size;
        }
        Ok(())
    }

    /// Forgets and deletes a blob no repository links, under the blob's lock so that an upload
    /// or mount of the same digest cannot interleave with it.
    async fn delete_unlinked_blob(&self, digest: &Digest) -> Result<bool> {
        let _locked = self.blob_locks.lock(digest).await;
        if !self.meta.forget_unlinked_blob(digest).await? {
            return Ok(false);
        }
        self.pause_at("gc.blob_forgotten").await;
        match self.blobs.delete(digest).await {
            Ok(()) | Err(BlobStoreError::BlobNotFound) => Ok(true),
            Err(e) => {
                warn!(digest = %digest, error = %e, "blob forgotten but its bytes could not be deleted");
                Err(e.into())
            }
        }
    }
}

fn collected(repo: &RepoName, digest: &Digest) -> CollectedManifest {
    CollectedManifest {
        repository: repo.to_string(),
        digest: digest.to_string(),
    }
}

#[cfg(test)]
mod tests;
