//! What deleting a manifest (or only one of its tags) would take with it, under the
//! configured collection policy for orphaned referrers.

use std::collections::VecDeque;

use berth_oci::{Digest, Reference, RepoName, Tag};
use serde::Serialize;

use super::details::MAX_TAGS_LISTED;
use crate::error::Result;
use crate::gc::OrphanedReferrers;
use crate::{ReferrerNode, Registry};

/// How deep the preview follows referrers of referrers (the graph extension's largest depth).
const PREVIEW_DEPTH: u32 = 32;

/// What a deletion targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionScope {
    /// The manifest a tag or digest names, with all its tags.
    Manifest(Reference),
    /// Only this tag; the manifest stays.
    Tag(Tag),
}

/// What happens to referrers whose subject is deleted, under the configured policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrphanPolicy {
    /// A collection deletes them (at once, or after the configured delay).
    DeleteWithSubject,
    /// They are kept.
    Keep,
}

impl From<OrphanedReferrers> for OrphanPolicy {
    fn from(policy: OrphanedReferrers) -> Self {
        match policy {
            OrphanedReferrers::Delete | OrphanedReferrers::After(_) => {
                OrphanPolicy::DeleteWithSubject
            }
            OrphanedReferrers::Keep => OrphanPolicy::Keep,
        }
    }
}

/// A referrer of the deleted manifest, direct (`depth` 1) or of a referrer (2 and more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoomedReferrer {
    pub digest: Digest,
    pub artifact_type: Option<String>,
    pub depth: u32,
}

/// The answer of a deletion preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletionPreview {
    /// The manifest the reference names.
    pub digest: Digest,
    /// The tags that go: every tag of the manifest (at most 1000), or only the one named.
    pub tags: Vec<String>,
    /// Every referrer of the manifest, transitively, breadth-first (none when only a tag
    /// goes); `policy` says whether a collection deletes them once the manifest is gone.
    pub referrers: Vec<DoomedReferrer>,
    pub policy: OrphanPolicy,
}

/// The nodes of a referrers tree breadth-first, each with its depth (1 for direct referrers).
fn breadth_first(nodes: &[ReferrerNode]) -> Vec<DoomedReferrer> {
    let mut queue: VecDeque<(&ReferrerNode, u32)> = nodes.iter().map(|n| (n, 1)).collect();
    let mut flat = Vec::new();
    while let Some((node, depth)) = queue.pop_front() {
        flat.push(DoomedReferrer {
            digest: node.referrer.digest.clone(),
            artifact_type: node.referrer.artifact_type.clone(),
            depth,
        });
        queue.extend(node.referrers.iter().map(|n| (n, depth + 1)));
    }
    flat
}

impl Registry {
    /// What deleting `scope` in `repo` would take with it. `NameUnknown` when the repository
    /// does not exist, `ManifestUnknown` when the tag or digest names nothing. Reads the
    /// referrers graph as `referrers_graph` does (one index read per level, 32 levels, at
    /// most `MAX_GRAPH_NODES` referrers).
    pub async fn deletion_preview(
        &self,
        repo: &RepoName,
        scope: &DeletionScope,
    ) -> Result<DeletionPreview> {
        let policy = self.config.gc.orphaned_referrers_for(repo).into();
        match scope {
            DeletionScope::Tag(tag) => {
                let manifest = self
                    .get_manifest(repo, &Reference::Tag(tag.clone()))
                    .await?;
                Ok(DeletionPreview {
                    digest: manifest.digest,
                    tags: vec![tag.as_str().to_owned()],
                    referrers: Vec::new(),
                    policy,
                })
            }
            DeletionScope::Manifest(reference) => {
                let digest = self.get_manifest(repo, reference).await?.digest;
                let tags = self
                    .meta
                    .tags_of_manifest(repo, &digest, MAX_TAGS_LISTED)
                    .await?;
                let graph = self.referrers_graph(repo, &digest, PREVIEW_DEPTH).await?;
                Ok(DeletionPreview {
                    digest,
                    tags,
                    referrers: breadth_first(&graph),
                    policy,
                })
            }
        }
    }
}
