//! Marking: which manifests of one repository a collection may delete. Pure, no I/O.

use std::collections::{HashMap, HashSet};

use berth_metadata::ManifestGraph;
use berth_oci::Digest;

use super::{OrphanedReferrers, Untagged};

/// Manifests of `graph` that are garbage under the policy, pushed before `cutoff`.
///
/// Roots are tags and manifests younger than the grace period (and, when untagged manifests
/// are kept, every manifest that is not a referrer). Liveness flows from an index to its
/// children and from a subject to its referrers, transitively. A referrer whose subject is
/// not in the repository is orphaned: kept or collected by policy.
pub fn doomed(
    graph: &ManifestGraph,
    cutoff: i64,
    untagged: Untagged,
    orphans: OrphanedReferrers,
) -> Vec<Digest> {
    let present: HashSet<&Digest> = graph.manifests.iter().map(|m| &m.digest).collect();
    let mut children: HashMap<&Digest, Vec<&Digest>> = HashMap::new();
    for (parent, child) in &graph.children {
        children.entry(parent).or_default().push(child);
    }
    let mut referrers: HashMap<&Digest, Vec<&Digest>> = HashMap::new();
    for m in &graph.manifests {
        if let Some(subject) = &m.subject {
            referrers.entry(subject).or_default().push(&m.digest);
        }
    }
    let mut live: HashSet<&Digest> = HashSet::new();
    let mut pending: Vec<&Digest> = graph
        .tags
        .iter()
        .map(|t| &t.digest)
        .filter(|d| present.contains(d))
        .collect();
    for m in &graph.manifests {
        let orphan = m.subject.as_ref().is_some_and(|s| !present.contains(s));
        let kept_untagged = untagged == Untagged::Keep && m.subject.is_none();
        let kept_orphan = orphan && orphans == OrphanedReferrers::Keep;
        if m.pushed_at >= cutoff || kept_untagged || kept_orphan {
            pending.push(&m.digest);
        }
    }
    while let Some(digest) = pending.pop() {
        if !live.insert(digest) {
            continue;
        }
        pending.extend(children.get(digest).into_iter().flatten());
        pending.extend(referrers.get(digest).into_iter().flatten());
    }
    let mut doomed: Vec<Digest> = graph
        .manifests
        .iter()
        .map(|m| &m.digest)
        .filter(|d| !live.contains(d))
        .cloned()
        .collect();
    doomed.sort();
    doomed
}

#[cfg(test)]
mod tests {
    use berth_metadata::{GraphManifest, GraphTag};

    use super::*;

    fn d(name: &str) -> Digest {
        Digest::sha256_of(name.as_bytes())
    }

    /// image (tagged) <- sbom <- signature; index (untagged) -> child; orphan sig on a missing subject.
    fn m(name: &str, subject: Option<&str>, pushed_at: i64) -> GraphManifest {
        GraphManifest {
            digest: d(name),
            subject: subject.map(d),
            pushed_at,
            artifact_type: None,
        }
    }

    fn graph() -> ManifestGraph {
        ManifestGraph {
            manifests: vec![
                m("image", None, 0),
                m("sbom", Some("image"), 0),
                m("sig-on-sbom", Some("sbom"), 0),
                m("index", None, 0),
                m("child", None, 0),
                m("orphan", Some("deleted-image"), 0),
                m("orphan-sig", Some("orphan"), 0),
                m("fresh-orphan", Some("deleted-image"), 100),
            ],
            tags: vec![GraphTag {
                name: "v1".into(),
                digest: d("image"),
                updated_at: 0,
            }],
            children: vec![(d("index"), d("child"))],
        }
    }

    #[test]
    fn keeping_untagged_collects_only_orphaned_referrer_chains() {
        let doomed = doomed(&graph(), 50, Untagged::Keep, OrphanedReferrers::Delete);
        let mut expected = vec![d("orphan"), d("orphan-sig")];
        expected.sort();
        assert_eq!(doomed, expected);
    }

    #[test]
    fn deleting_untagged_follows_tags_children_and_subjects() {
        let doomed = doomed(&graph(), 50, Untagged::Delete, OrphanedReferrers::Delete);
        let mut expected = vec![d("index"), d("child"), d("orphan"), d("orphan-sig")];
        expected.sort();
        assert_eq!(
            doomed, expected,
            "tagged image, its SBOM and the SBOM's signature live"
        );
    }

    #[test]
    fn orphans_kept_by_policy_keep_their_own_referrers() {
        let doomed = doomed(&graph(), 50, Untagged::Delete, OrphanedReferrers::Keep);
        let mut expected = vec![d("index"), d("child")];
        expected.sort();
        assert_eq!(doomed, expected);
        assert!(super::doomed(&graph(), 50, Untagged::Keep, OrphanedReferrers::Keep).is_empty());
    }

    #[test]
    fn the_grace_period_protects_young_manifests_and_what_they_reach() {
        let doomed = doomed(&graph(), 0, Untagged::Delete, OrphanedReferrers::Delete);
        assert!(
            doomed.is_empty(),
            "everything was pushed within the grace period"
        );
    }
}
