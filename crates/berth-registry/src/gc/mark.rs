//! Marking: which manifests of one repository a collection may delete. Pure, no I/O.

use std::collections::{HashMap, HashSet};

use berth_metadata::{GraphManifest, ManifestGraph};
use berth_oci::Digest;

use super::{OrphanedReferrers, Untagged};

/// Manifests of `graph` that are garbage under the policy, pushed before `cutoff`.
///
/// Roots are tags and manifests younger than the grace period (and, when untagged manifests
/// are kept, every manifest that is not a referrer). Liveness flows from an index to its
/// children and from a subject to its referrers, transitively, through present manifests
/// only (an index listing a deleted child does not hold the child's referrers). A referrer
/// whose subject is gone, or goes in this collection, is orphaned: collected, kept, or kept
/// until `now` is a delay past the subject's deletion, by policy. A referrer of a referrer
/// shares its subject's fate rather than starting a delay of its own.
pub fn doomed(
    graph: &ManifestGraph,
    cutoff: i64,
    now: i64,
    untagged: Untagged,
    orphans: OrphanedReferrers,
) -> Vec<Digest> {
    let present: HashMap<&Digest, &GraphManifest> =
        graph.manifests.iter().map(|m| (&m.digest, m)).collect();
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
        .filter(|d| present.contains_key(d))
        .collect();
    for m in &graph.manifests {
        let kept_untagged = untagged == Untagged::Keep && m.subject.is_none();
        let kept_orphan = m.subject.as_ref().is_some_and(|subject| {
            // A subject still present either lives (and so does this referrer) or dies in
            // this collection, orphaning the referrer now.
            let orphaned_since = match present.get(subject) {
                Some(s) if s.subject.is_some() => return false,
                Some(_) => now,
                None => m.subject_deleted_at.unwrap_or(m.pushed_at),
            };
            match orphans {
                OrphanedReferrers::Delete => false,
                OrphanedReferrers::Keep => true,
                OrphanedReferrers::After(delay) => {
                    orphaned_since > now.saturating_sub(super::millis(delay))
                }
            }
        });
        if m.pushed_at >= cutoff || kept_untagged || kept_orphan {
            pending.push(&m.digest);
        }
    }
    while let Some(digest) = pending.pop() {
        // An index may still list a deleted child; the child's referrers are orphans all the
        // same, so liveness flows through present manifests only.
        if !present.contains_key(digest) || !live.insert(digest) {
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
    use std::time::Duration;

    use berth_metadata::GraphTag;

    use super::*;

    const CUTOFF: i64 = 50;
    const NOW: i64 = 1_000;

    fn d(name: &str) -> Digest {
        Digest::sha256_of(name.as_bytes())
    }

    fn m(name: &str, subject: Option<&str>, pushed_at: i64) -> GraphManifest {
        GraphManifest {
            digest: d(name),
            subject: subject.map(d),
            pushed_at,
            artifact_type: None,
            subject_deleted_at: None,
        }
    }

    /// image (tagged) <- sbom <- signature; index (untagged) -> child; an orphan chain on a
    /// deleted subject; an untagged image with a signature.
    fn graph() -> ManifestGraph {
        ManifestGraph {
            manifests: vec![
                m("image", None, 0),
                m("sbom", Some("image"), 0),
                m("sig-on-sbom", Some("sbom"), 0),
                m("index", None, 0),
                m("child", None, 0),
                GraphManifest {
                    subject_deleted_at: Some(900),
                    ..m("orphan", Some("deleted-image"), 0)
                },
                m("orphan-sig", Some("orphan"), 0),
                m("fresh-orphan", Some("deleted-image"), 100),
                m("untagged", None, 0),
                m("untagged-sig", Some("untagged"), 0),
            ],
            tags: vec![GraphTag {
                name: "v1".into(),
                digest: d("image"),
                updated_at: 0,
            }],
            children: vec![(d("index"), d("child"))],
        }
    }

    fn digests(names: &[&str]) -> Vec<Digest> {
        let mut digests: Vec<Digest> = names.iter().map(|n| d(n)).collect();
        digests.sort();
        digests
    }

    fn collect(now: i64, untagged: Untagged, orphans: OrphanedReferrers) -> Vec<Digest> {
        doomed(&graph(), CUTOFF, now, untagged, orphans)
    }

    #[test]
    fn keeping_untagged_collects_only_orphaned_referrer_chains() {
        assert_eq!(
            collect(NOW, Untagged::Keep, OrphanedReferrers::Delete),
            digests(&["orphan", "orphan-sig"])
        );
    }

    #[test]
    fn deleting_untagged_follows_tags_children_and_subjects() {
        assert_eq!(
            collect(NOW, Untagged::Delete, OrphanedReferrers::Delete),
            digests(&[
                "index",
                "child",
                "orphan",
                "orphan-sig",
                "untagged",
                "untagged-sig"
            ]),
            "tagged image, its SBOM and the SBOM's signature live"
        );
    }

    #[test]
    fn orphans_kept_by_policy_keep_their_own_referrers() {
        assert_eq!(
            collect(NOW, Untagged::Delete, OrphanedReferrers::Keep),
            digests(&["index", "child", "untagged"]),
            "the signature of a collected image is kept too"
        );
        assert!(collect(NOW, Untagged::Keep, OrphanedReferrers::Keep).is_empty());
    }

    #[test]
    fn orphans_wait_out_the_delay_counted_from_their_subjects_deletion() {
        let delay = OrphanedReferrers::After(Duration::from_millis(200));
        assert_eq!(
            collect(NOW, Untagged::Delete, delay),
            digests(&["index", "child", "untagged"]),
            "deleted at 900, the orphan waits until 1,100; the untagged image's signature starts waiting now"
        );
        assert_eq!(
            collect(1_150, Untagged::Keep, delay),
            digests(&["orphan", "orphan-sig"]),
            "past the delay the orphan goes, with its own referrer"
        );
        // Past the grace period (cutoff 200), a referrer whose subject never existed waits
        // from its own push (fresh-orphan, 100).
        assert!(doomed(&graph(), 200, 250, Untagged::Keep, delay).is_empty());
        assert_eq!(
            doomed(&graph(), 200, 350, Untagged::Keep, delay),
            digests(&["fresh-orphan"]),
        );
    }

    #[test]
    fn an_index_listing_a_deleted_child_does_not_hold_its_referrers() {
        let mut graph = graph();
        graph.tags.push(GraphTag {
            name: "multi".into(),
            digest: d("index"),
            updated_at: 0,
        });
        graph.children.push((d("index"), d("deleted-image")));
        assert_eq!(
            doomed(
                &graph,
                CUTOFF,
                NOW,
                Untagged::Delete,
                OrphanedReferrers::Delete
            ),
            digests(&["orphan", "orphan-sig", "untagged", "untagged-sig"]),
            "the tagged index holds its present child, not the deleted image's referrers"
        );
    }

    #[test]
    fn the_grace_period_protects_young_manifests_and_what_they_reach() {
        let doomed = doomed(
            &graph(),
            0,
            NOW,
            Untagged::Delete,
            OrphanedReferrers::Delete,
        );
        assert!(
            doomed.is_empty(),
            "everything was pushed within the grace period"
        );
    }
}
