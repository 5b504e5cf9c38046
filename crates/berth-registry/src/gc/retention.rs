//! Retention rules: which tags expire and which referrers newer ones supersede. Pure, no I/O.

use std::collections::HashMap;
use std::time::Duration;

use berth_metadata::{GraphTag, ManifestGraph};
use berth_oci::Digest;

use super::{OrphanedReferrers, Untagged};

/// One `[[gc.retention]]` entry, applied to the repositories its pattern matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRule {
    /// Repositories this rule governs (`*` matches within a path segment too).
    pub repositories: glob::Pattern,
    /// Keep the N most recently moved tags; older ones expire.
    pub keep_newest_tags: Option<usize>,
    /// Tags matching this pattern never expire.
    pub keep_tags_matching: Option<glob::Pattern>,
    /// Tags that have not moved for this long expire.
    pub expire_tags_after: Option<Duration>,
    /// Keep the N newest referrers per subject and artifact type; older ones are superseded.
    pub keep_newest_referrers: Option<usize>,
    /// Overrides the global untagged policy for these repositories.
    pub untagged: Option<Untagged>,
    /// Overrides the global orphaned referrers policy for these repositories.
    pub orphaned_referrers: Option<OrphanedReferrers>,
}

impl RetentionRule {
    /// A rule for `repositories` that limits and overrides nothing yet.
    pub fn for_repositories(repositories: glob::Pattern) -> RetentionRule {
        RetentionRule {
            repositories,
            keep_newest_tags: None,
            keep_tags_matching: None,
            expire_tags_after: None,
            keep_newest_referrers: None,
            untagged: None,
            orphaned_referrers: None,
        }
    }
}

/// Tags the rules expire. A tag expires when a rule's count or age limit says so and no rule
/// protects it by pattern or count; tags moved within the grace period (after `cutoff`) stay.
pub fn expired_tags(
    graph: &ManifestGraph,
    rules: &[&RetentionRule],
    now: i64,
    cutoff: i64,
) -> Vec<GraphTag> {
    let mut by_age: Vec<&GraphTag> = graph.tags.iter().collect();
    by_age.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    let newest_kept = rules.iter().filter_map(|r| r.keep_newest_tags).max();
    by_age
        .iter()
        .enumerate()
        .filter(|(rank, tag)| {
            let protected = tag.updated_at >= cutoff
                || newest_kept.is_some_and(|n| *rank < n)
                || rules.iter().any(|r| {
                    r.keep_tags_matching
                        .as_ref()
                        .is_some_and(|p| p.matches(&tag.name))
                });
            let over_count = newest_kept.is_some_and(|n| *rank >= n);
            let too_old = rules.iter().any(|r| {
                r.expire_tags_after
                    .is_some_and(|age| tag.updated_at < now.saturating_sub(super::millis(age)))
            });
            !protected && (over_count || too_old)
        })
        .map(|(_, tag)| (*tag).clone())
        .collect()
}

/// Referrers compete with those of the same subject and artifact type.
type ReferrerKind<'a> = (&'a Digest, Option<&'a str>);

/// Referrers beyond the newest N of their subject and artifact type, pushed before `cutoff`.
pub fn superseded_referrers(
    graph: &ManifestGraph,
    rules: &[&RetentionRule],
    cutoff: i64,
) -> Vec<Digest> {
    let Some(keep) = rules.iter().filter_map(|r| r.keep_newest_referrers).max() else {
        return Vec::new();
    };
    // A tag or an index holding a referrer keeps it whatever its age.
    let held: std::collections::HashSet<&Digest> = graph
        .tags
        .iter()
        .map(|t| &t.digest)
        .chain(graph.children.iter().map(|(_, c)| c))
        .collect();
    // (subject, artifact type) -> (push time, referrer)
    let mut groups: HashMap<ReferrerKind, Vec<(i64, &Digest)>> = HashMap::new();
    for m in graph.manifests.iter().filter(|m| !held.contains(&m.digest)) {
        if let Some(subject) = &m.subject {
            groups
                .entry((subject, m.artifact_type.as_deref()))
                .or_default()
                .push((m.pushed_at, &m.digest));
        }
    }
    let mut superseded = Vec::new();
    for mut group in groups.into_values() {
        group.sort_by(|a, b| b.cmp(a));
        superseded.extend(
            group
                .into_iter()
                .skip(keep)
                .filter(|(at, _)| *at < cutoff)
                .map(|(_, d)| d.clone()),
        );
    }
    superseded.sort();
    superseded
}

#[cfg(test)]
mod tests {
    use berth_metadata::GraphManifest;

    use super::*;

    fn d(name: &str) -> Digest {
        Digest::sha256_of(name.as_bytes())
    }

    fn rule() -> RetentionRule {
        RetentionRule::for_repositories(glob::Pattern::new("*").unwrap())
    }

    fn tags(ages: &[(&str, i64)]) -> ManifestGraph {
        ManifestGraph {
            tags: ages
                .iter()
                .map(|(n, at)| GraphTag {
                    name: (*n).into(),
                    digest: d(n),
                    updated_at: *at,
                })
                .collect(),
            ..ManifestGraph::default()
        }
    }

    fn names(tags: Vec<GraphTag>) -> Vec<String> {
        let mut names: Vec<_> = tags.into_iter().map(|t| t.name).collect();
        names.sort();
        names
    }

    #[test]
    fn keeps_the_newest_tags_and_those_matching_a_pattern() {
        let graph = tags(&[("a", 10), ("b", 20), ("c", 30), ("release-1", 5), ("d", 40)]);
        let r = RetentionRule {
            keep_newest_tags: Some(2),
            keep_tags_matching: Some(glob::Pattern::new("release-*").unwrap()),
            ..rule()
        };
        assert_eq!(names(expired_tags(&graph, &[&r], 1_000, 1_000)), ["a", "b"]);
    }

    #[test]
    fn expires_tags_older_than_a_duration_but_not_within_grace() {
        let graph = tags(&[("old", 0), ("new", 9_000), ("fresh", 9_900)]);
        let r = RetentionRule {
            expire_tags_after: Some(Duration::from_secs(5)),
            ..rule()
        };
        assert_eq!(names(expired_tags(&graph, &[&r], 10_000, 9_500)), ["old"]);
        let r = RetentionRule {
            expire_tags_after: Some(Duration::from_millis(500)),
            ..rule()
        };
        assert_eq!(
            names(expired_tags(&graph, &[&r], 10_000, 9_500)),
            ["new", "old"],
            "fresh is within grace"
        );
        assert!(
            expired_tags(&graph, &[&rule()], 10_000, 9_500).is_empty(),
            "no limits, nothing expires"
        );
    }

    #[test]
    fn keeps_the_newest_referrers_per_subject_and_type() {
        let m = |name: &str, subject: &str, kind: &str, at: i64| GraphManifest {
            digest: d(name),
            subject: Some(d(subject)),
            pushed_at: at,
            artifact_type: Some(kind.into()),
            subject_deleted_at: None,
        };
        let graph = ManifestGraph {
            manifests: vec![
                m("scan1", "img", "scan", 1),
                m("scan2", "img", "scan", 2),
                m("scan3", "img", "scan", 3),
                m("sig1", "img", "sig", 1),
                m("other-scan", "img2", "scan", 1),
            ],
            ..ManifestGraph::default()
        };
        let r = RetentionRule {
            keep_newest_referrers: Some(1),
            ..rule()
        };
        let mut expected = vec![d("scan1"), d("scan2")];
        expected.sort();
        assert_eq!(superseded_referrers(&graph, &[&r], 100), expected);
        assert_eq!(
            superseded_referrers(&graph, &[&r], 2),
            vec![d("scan1")],
            "scan2 is within grace"
        );
    }
}
