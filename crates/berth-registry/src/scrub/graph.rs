//! The manifest half of a scrub: every stored manifest parsed and its digest checked, its
//! edges followed, and the damage traced to the tags and referrers it reaches.

use std::collections::{BTreeSet, HashMap, HashSet};

use berth_metadata::ManifestGraph;
use berth_oci::{Digest, ParsedManifest, RepoName};

use super::{
    AffectedRepository, BlobFinding, ManifestFinding, ManifestProblem, OrphanedReferrer,
    ScrubReport,
};
use crate::error::Result;
use crate::Registry;

/// Repositories listed at once.
const REPOSITORY_PAGE: u32 = 1_000;

impl Registry {
    /// Checks every manifest of every repository, given the damaged blobs the blob half found.
    pub(super) async fn scrub_manifests(
        &self,
        damaged_blobs: &[BlobFinding],
        report: &mut ScrubReport,
    ) -> Result<()> {
        let damaged: HashSet<&str> = damaged_blobs.iter().map(|f| f.digest.as_str()).collect();
        let mut after: Option<String> = None;
        loop {
            let repos = self
                .meta
                .list_repositories(after.as_deref(), REPOSITORY_PAGE)
                .await?;
            let Some(last) = repos.last() else {
                return Ok(());
            };
            after = Some(last.to_string());
            for repo in &repos {
                self.scrub_repository(repo, &damaged, report).await?;
            }
        }
    }

    async fn scrub_repository(
        &self,
        repo: &RepoName,
        damaged: &HashSet<&str>,
        report: &mut ScrubReport,
    ) -> Result<()> {
        let graph = self.meta.manifest_graph(repo).await?;
        let present: HashSet<&Digest> = graph.manifests.iter().map(|m| &m.digest).collect();
        let mut findings = Vec::new();
        for manifest in &graph.manifests {
            // Deleted since the graph was read: nothing left to check.
            let Some(stored) = self.meta.manifest_by_digest(repo, &manifest.digest).await? else {
                continue;
            };
            report.manifests_checked += 1;
            for problem in self
                .manifest_problems(repo, &stored, damaged, &present)
                .await?
            {
                findings.push(ManifestFinding {
                    repository: repo.to_string(),
                    digest: manifest.digest.to_string(),
                    problem,
                });
            }
            if let Some(subject) = &manifest.subject {
                if !present.contains(subject) {
                    report.orphaned_referrers.push(OrphanedReferrer {
                        repository: repo.to_string(),
                        referrer: manifest.digest.to_string(),
                        subject: subject.to_string(),
                    });
                }
            }
        }
        if !findings.is_empty() {
            report.affected.push(affected(repo, &graph, &findings));
        }
        report.manifests.extend(findings);
        Ok(())
    }

    /// What is wrong with one stored manifest: its body, and each reference.
    async fn manifest_problems(
        &self,
        repo: &RepoName,
        stored: &berth_metadata::StoredManifest,
        damaged: &HashSet<&str>,
        present: &HashSet<&Digest>,
    ) -> Result<Vec<ManifestProblem>> {
        let actual = Digest::of(stored.digest.algorithm(), &stored.body);
        if actual != stored.digest {
            return Ok(vec![ManifestProblem::DigestMismatch {
                actual: actual.to_string(),
            }]);
        }
        let parsed = match ParsedManifest::parse(&stored.body, Some(stored.media_type.as_str())) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Ok(vec![ManifestProblem::Unparseable {
                    reason: e.to_string(),
                }])
            }
        };
        let mut problems = Vec::new();
        for blob in parsed.required_blobs() {
            let digest = &blob.digest;
            if damaged.contains(digest.as_str()) {
                problems.push(ManifestProblem::BlobDamaged {
                    blob: digest.to_string(),
                });
            } else if self.meta.linked_blob_size(repo, digest).await?.is_none() {
                problems.push(ManifestProblem::BlobNotLinked {
                    blob: digest.to_string(),
                });
            }
        }
        for child in &parsed.manifests {
            if !present.contains(&child.digest) {
                problems.push(ManifestProblem::ChildMissing {
                    child: child.digest.to_string(),
                });
            }
        }
        Ok(problems)
    }
}

/// The manifests `findings` name, the indexes over them (transitively), the tags pointing at
/// any of those, and their referrers.
fn affected(
    repo: &RepoName,
    graph: &ManifestGraph,
    findings: &[ManifestFinding],
) -> AffectedRepository {
    let mut hit: BTreeSet<String> = findings.iter().map(|f| f.digest.clone()).collect();
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    for (parent, child) in &graph.children {
        parents
            .entry(child.to_string())
            .or_default()
            .push(parent.to_string());
    }
    let mut frontier: Vec<String> = hit.iter().cloned().collect();
    while let Some(digest) = frontier.pop() {
        for parent in parents.get(&digest).into_iter().flatten() {
            if hit.insert(parent.clone()) {
                frontier.push(parent.clone());
            }
        }
    }
    let mut tags: Vec<String> = graph
        .tags
        .iter()
        .filter(|t| hit.contains(t.digest.as_str()))
        .map(|t| t.name.clone())
        .collect();
    tags.sort();
    let referrers: BTreeSet<String> = graph
        .manifests
        .iter()
        .filter(|m| m.subject.as_ref().is_some_and(|s| hit.contains(s.as_str())))
        .map(|m| m.digest.to_string())
        .collect();
    AffectedRepository {
        repository: repo.to_string(),
        manifests: hit.into_iter().collect(),
        tags,
        referrers: referrers.into_iter().collect(),
    }
}
