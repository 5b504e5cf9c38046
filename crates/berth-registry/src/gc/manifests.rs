//! The manifest half of a collection, one repository at a time: retention first (expired tags,
//! superseded referrers), then marking, then the unreachable manifests.

use berth_metadata::ManifestGraph;
use berth_oci::{Digest, RepoName};
use futures::future::try_join_all;

use super::report::{CollectedManifest, CollectedTag};
use super::{mark, retention, GcOptions, GcReport, RetentionRule, IN_FLIGHT};
use crate::error::Result;
use crate::Registry;

impl Registry {
    /// Collects the manifests of `repo` the policy dooms (a dry run only reports them), and
    /// returns their digests, superseded referrers included.
    pub(super) async fn collect_manifests(
        &self,
        repo: &RepoName,
        cutoff: i64,
        options: &GcOptions,
        report: &mut GcReport,
    ) -> Result<Vec<Digest>> {
        let rules = options.rules_for(repo);
        let mut graph = self.meta.manifest_graph(repo).await?;
        let mut deleted = self
            .apply_retention(repo, &rules, &mut graph, cutoff, options.dry_run, report)
            .await?;
        // The first matching rule that sets a policy wins over the global one.
        let untagged = options.untagged_for(repo);
        let orphans = options.orphaned_referrers_for(repo);
        let now = self.meta.now_millis().await?;
        let mut remaining = mark::doomed(&graph, cutoff, now, untagged, orphans);
        if options.dry_run {
            report
                .manifests
                .extend(remaining.iter().map(|d| CollectedManifest::new(repo, d)));
            report.manifests_deleted += remaining.len();
            deleted.extend(remaining);
            return Ok(deleted);
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
            for (digest, gone) in outcomes {
                if gone {
                    report.manifests.push(CollectedManifest::new(repo, &digest));
                    report.manifests_deleted += 1;
                    deleted.push(digest);
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
        Ok(deleted)
    }

    /// Deletes the tags and superseded referrers the matching rules expire, and removes them
    /// from `graph` so that marking sees the repository as it now is: the referrers of a
    /// superseded referrer are orphaned from now on, as the store records when it deletes it.
    /// Returns the superseded referrers deleted (or, in a dry run, that would be).
    async fn apply_retention(
        &self,
        repo: &RepoName,
        rules: &[&RetentionRule],
        graph: &mut ManifestGraph,
        cutoff: i64,
        dry_run: bool,
        report: &mut GcReport,
    ) -> Result<Vec<Digest>> {
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.meta.now_millis().await?;
        for tag in retention::expired_tags(graph, rules, now, cutoff) {
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
        let mut superseded = Vec::new();
        for digest in retention::superseded_referrers(graph, rules, cutoff) {
            if dry_run || self.meta.delete_superseded_referrer(repo, &digest).await? {
                report.manifests.push(CollectedManifest::new(repo, &digest));
                report.manifests_deleted += 1;
                graph.manifests.retain(|m| m.digest != digest);
                for orphan in graph
                    .manifests
                    .iter_mut()
                    .filter(|m| m.subject.as_ref() == Some(&digest))
                {
                    orphan.subject_deleted_at = Some(now);
                }
                superseded.push(digest);
            }
        }
        if !dry_run {
            self.generations.bump(repo);
        }
        Ok(superseded)
    }
}
