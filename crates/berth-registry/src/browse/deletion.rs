//! What deleting a manifest (or only one of its tags) would take with it, under the
//! configured collection policy: the deletion is simulated on the part of the repository's
//! manifest graph that decides the fate of the manifest and its referrers, and the
//! collection's own marking says which referrers (and, for a tag, whether the manifest) a
//! collection would then delete.

use std::collections::{HashSet, VecDeque};

use berth_metadata::ManifestGraph;
use berth_oci::{Digest, Reference, RepoName, Tag};
use serde::Serialize;

use super::details::MAX_TAGS_LISTED;
use crate::error::Result;
use crate::gc::{mark, OrphanedReferrers, Untagged};
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
    /// Whether a collection deletes it once the deletion is done (after the grace period and
    /// any orphan delay). False when something keeps it: a tag of its own, an index or a
    /// subject that stays, or a policy that keeps orphaned referrers.
    pub goes: bool,
}

/// The answer of a deletion preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionPreview {
    /// The manifest the reference names.
    pub digest: Digest,
    /// The tags that go: every tag of the manifest (at most 1000), or only the one named.
    pub tags: Vec<String>,
    /// Whether the manifest goes: always for a manifest deletion; for a tag, when a
    /// collection deletes the manifest once the tag is gone (its last tag, nothing else
    /// keeping it, and a policy that collects untagged manifests or orphaned referrers).
    pub manifest_goes: bool,
    /// Every referrer of the manifest, transitively, breadth-first, each saying whether it
    /// goes too; none when only a tag goes and the manifest stays.
    pub referrers: Vec<DoomedReferrer>,
    pub policy: OrphanPolicy,
}

/// The nodes of a referrers tree breadth-first, each with its depth (1 for direct referrers)
/// and whether it is in `doomed`.
fn breadth_first(nodes: &[ReferrerNode], doomed: &HashSet<Digest>) -> Vec<DoomedReferrer> {
    let mut queue: VecDeque<(&ReferrerNode, u32)> = nodes.iter().map(|n| (n, 1)).collect();
    let mut flat = Vec::new();
    while let Some((node, depth)) = queue.pop_front() {
        flat.push(DoomedReferrer {
            digest: node.referrer.digest.clone(),
            artifact_type: node.referrer.artifact_type.clone(),
            depth,
            goes: doomed.contains(&node.referrer.digest),
        });
        queue.extend(node.referrers.iter().map(|n| (n, depth + 1)));
    }
    flat
}

/// `graph` as deleting the manifest `digest` at `now` leaves it (as the metadata store does
/// it): without the manifest, its tags and its index edges, its referrers orphaned since now.
fn without_manifest(graph: &mut ManifestGraph, digest: &Digest, now: i64) {
    graph.manifests.retain(|m| &m.digest != digest);
    graph.tags.retain(|t| &t.digest != digest);
    graph.children.retain(|(parent, _)| parent != digest);
    for orphan in graph
        .manifests
        .iter_mut()
        .filter(|m| m.subject.as_ref() == Some(digest))
    {
        orphan.subject_deleted_at = Some(now);
    }
}

/// What a collection would delete from `graph` once every grace period and orphan delay has
/// passed, under the policies `untagged` and `orphans`: the collection's own marking.
fn doomed_eventually(
    graph: &ManifestGraph,
    now: i64,
    untagged: Untagged,
    orphans: OrphanedReferrers,
) -> HashSet<Digest> {
    // A delay only defers: past it, orphans go as with `Delete`.
    let orphans = match orphans {
        OrphanedReferrers::After(_) => OrphanedReferrers::Delete,
        policy => policy,
    };
    // Nothing is pushed at or after i64::MAX: no manifest is young enough to be spared.
    mark::doomed(graph, i64::MAX, now, untagged, orphans)
        .into_iter()
        .collect()
}

impl Registry {
    /// `doomed_eventually` under the policies configured for `repo`.
    fn doomed_in(&self, repo: &RepoName, graph: &ManifestGraph, now: i64) -> HashSet<Digest> {
        let gc = &self.config.gc;
        doomed_eventually(
            graph,
            now,
            gc.untagged_for(repo),
            gc.orphaned_referrers_for(repo),
        )
    }

    /// What deleting `scope` in `repo` would take with it. `NameUnknown` when the repository
    /// does not exist, `ManifestUnknown` when the tag or digest names nothing.
    ///
    /// Reads the part of the repository's manifest graph that decides the fate of the manifest
    /// and its referrers (their ancestry: subjects, the indexes listing them, their tags),
    /// removes what the deletion removes, and marks it as a collection would (retention rules
    /// aside), so that what it says goes is what a collection deletes. The cost follows the
    /// referrers and their ancestry, not the repository. Lists the referrers as
    /// `referrers_graph` reads them (one index read per level, 32 levels, at most
    /// `MAX_GRAPH_NODES` referrers).
    pub async fn deletion_preview(
        &self,
        repo: &RepoName,
        scope: &DeletionScope,
    ) -> Result<DeletionPreview> {
        let policy = self.config.gc.orphaned_referrers_for(repo).into();
        match scope {
            DeletionScope::Tag(tag) => {
                let digest = self
                    .get_manifest(repo, &Reference::Tag(tag.clone()))
                    .await?
                    .digest;
                let untag = |mut graph: ManifestGraph| {
                    graph.tags.retain(|t| t.name != tag.as_str());
                    graph
                };
                // Whether the manifest goes depends on its ancestry alone; its referrers are
                // read only when it does.
                let graph = untag(
                    self.meta
                        .ancestry_graph(repo, std::slice::from_ref(&digest), Some(tag.as_str()))
                        .await?,
                );
                let now = self.meta.now_millis().await?;
                let manifest_goes = self.doomed_in(repo, &graph, now).contains(&digest);
                let referrers = if manifest_goes {
                    let tree = self.referrers_graph(repo, &digest, PREVIEW_DEPTH).await?;
                    let seeds = with_referrers(&digest, &tree);
                    let graph = self
                        .meta
                        .ancestry_graph(repo, &seeds, Some(tag.as_str()))
                        .await?;
                    let graph = untag(graph);
                    breadth_first(&tree, &self.doomed_in(repo, &graph, now))
                } else {
                    Vec::new()
                };
                Ok(DeletionPreview {
                    digest,
                    tags: vec![tag.as_str().to_owned()],
                    manifest_goes,
                    referrers,
                    policy,
                })
            }
            DeletionScope::Manifest(reference) => {
                let digest = self.get_manifest(repo, reference).await?.digest;
                let tags = self
                    .meta
                    .tags_of_manifest(repo, &digest, MAX_TAGS_LISTED)
                    .await?;
                let tree = self.referrers_graph(repo, &digest, PREVIEW_DEPTH).await?;
                let seeds = with_referrers(&digest, &tree);
                // The manifest goes, and whatever is above it holds nothing below it then:
                // its tags may as well stop the climb.
                let mut graph = self.meta.ancestry_graph(repo, &seeds, None).await?;
                let now = self.meta.now_millis().await?;
                without_manifest(&mut graph, &digest, now);
                let doomed = self.doomed_in(repo, &graph, now);
                Ok(DeletionPreview {
                    digest,
                    tags,
                    manifest_goes: true,
                    referrers: breadth_first(&tree, &doomed),
                    policy,
                })
            }
        }
    }
}

/// `digest` and every referrer in its referrers tree.
fn with_referrers(digest: &Digest, tree: &[ReferrerNode]) -> Vec<Digest> {
    let mut digests = vec![digest.clone()];
    let mut pending: Vec<&ReferrerNode> = tree.iter().collect();
    while let Some(node) = pending.pop() {
        digests.push(node.referrer.digest.clone());
        pending.extend(&node.referrers);
    }
    digests
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use berth_metadata::{GraphManifest, GraphTag};

    use super::*;

    const NOW: i64 = 1_000;

    fn d(name: &str) -> Digest {
        Digest::sha256_of(name.as_bytes())
    }

    fn m(name: &str, subject: Option<&str>) -> GraphManifest {
        GraphManifest {
            digest: d(name),
            subject: subject.map(d),
            pushed_at: NOW - 1,
            artifact_type: None,
            subject_deleted_at: None,
        }
    }

    fn tag(name: &str, manifest: &str) -> GraphTag {
        GraphTag {
            name: name.into(),
            digest: d(manifest),
            updated_at: 0,
        }
    }

    /// img (tagged twice) <- a tagged SBOM <- its signature; img <- an untagged signature
    /// <- a timestamp; img <- an attestation that a tagged index lists.
    fn graph() -> ManifestGraph {
        ManifestGraph {
            manifests: vec![
                m("img", None),
                m("sbom", Some("img")),
                m("sbom-sig", Some("sbom")),
                m("sig", Some("img")),
                m("timestamp", Some("sig")),
                m("attestation", Some("img")),
                m("index", None),
            ],
            tags: vec![
                tag("img", "img"),
                tag("also", "img"),
                tag("sbom-tagged", "sbom"),
                tag("bundle", "index"),
            ],
            children: vec![(d("index"), d("attestation"))],
        }
    }

    fn names(doomed: &HashSet<Digest>) -> Vec<&'static str> {
        let all = [
            "img",
            "sbom",
            "sbom-sig",
            "sig",
            "timestamp",
            "attestation",
            "index",
        ];
        all.into_iter().filter(|n| doomed.contains(&d(n))).collect()
    }

    fn after_deleting_img(untagged: Untagged, orphans: OrphanedReferrers) -> Vec<&'static str> {
        let mut graph = graph();
        without_manifest(&mut graph, &d("img"), NOW);
        names(&doomed_eventually(&graph, NOW, untagged, orphans))
    }

    #[test]
    fn what_a_tag_an_index_or_a_kept_subject_holds_stays() {
        for untagged in [Untagged::Keep, Untagged::Delete] {
            assert_eq!(
                after_deleting_img(untagged, OrphanedReferrers::Delete),
                ["sig", "timestamp"],
                "{untagged:?}"
            );
        }
    }

    #[test]
    fn a_delay_only_defers_and_keeping_orphans_keeps_them_all() {
        let delay = OrphanedReferrers::After(Duration::from_secs(7 * 86_400));
        assert_eq!(
            after_deleting_img(Untagged::Keep, delay),
            ["sig", "timestamp"]
        );
        assert!(after_deleting_img(Untagged::Delete, OrphanedReferrers::Keep).is_empty());
    }

    #[test]
    fn the_last_tag_takes_the_manifest_only_when_untagged_manifests_go() {
        let without_tags = |names: &[&str]| {
            let mut graph = graph();
            graph.tags.retain(|t| !names.contains(&t.name.as_str()));
            graph
        };
        let doomed = |graph: &ManifestGraph, untagged| {
            names(&doomed_eventually(
                graph,
                NOW,
                untagged,
                OrphanedReferrers::Delete,
            ))
        };
        let one_left = without_tags(&["also"]);
        assert!(doomed(&one_left, Untagged::Delete).is_empty());
        let none_left = without_tags(&["also", "img"]);
        assert_eq!(
            doomed(&none_left, Untagged::Delete),
            ["img", "sig", "timestamp"]
        );
        assert!(doomed(&none_left, Untagged::Keep).is_empty());
    }
}
