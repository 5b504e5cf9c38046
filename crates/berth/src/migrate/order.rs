//! The order in which a repository's manifests can be stored again: every manifest after the
//! children it lists (an index needs them present) and after its subject when the subject is
//! in the repository (an ORAS artifact manifest needs it present; for the others it only keeps
//! the referrers index as the source had it). Otherwise the source's push order.

use std::collections::{BTreeMap, BTreeSet};

use berth_metadata::GraphManifest;
use berth_oci::Digest;

/// The digests of `manifests` in an order that stores each after its dependencies: the index
/// children `children` (index, child) lists and its subject when that is one of `manifests`.
/// Among manifests free to go, the one pushed first (`pushed_at`, then digest) goes first.
///
/// Children not among `manifests` are ignored (the store cannot hold such an edge). Content
/// addressing rules out cycles; were one there, its members would still each appear once.
pub fn dependency_order(manifests: &[GraphManifest], children: &[(Digest, Digest)]) -> Vec<Digest> {
    let present: BTreeSet<&Digest> = manifests.iter().map(|m| &m.digest).collect();
    let mut needs: BTreeMap<&Digest, Vec<&Digest>> = BTreeMap::new();
    for (index, child) in children {
        if present.contains(child) {
            needs.entry(index).or_default().push(child);
        }
    }
    for manifest in manifests {
        if let Some(subject) = manifest.subject.as_ref().filter(|s| present.contains(s)) {
            needs.entry(&manifest.digest).or_default().push(subject);
        }
    }
    let pushed_at: BTreeMap<&Digest, i64> =
        manifests.iter().map(|m| (&m.digest, m.pushed_at)).collect();
    for deps in needs.values_mut() {
        deps.sort_by_key(|d| (pushed_at[d], *d));
        deps.dedup();
    }
    let mut roots: Vec<&GraphManifest> = manifests.iter().collect();
    roots.sort_by(|a, b| (a.pushed_at, &a.digest).cmp(&(b.pushed_at, &b.digest)));

    // Depth-first with an explicit stack, so that a long referrer chain cannot overflow it.
    let mut placed: BTreeSet<&Digest> = BTreeSet::new();
    let mut visiting: BTreeSet<&Digest> = BTreeSet::new();
    let mut order = Vec::with_capacity(manifests.len());
    for root in roots {
        let mut stack: Vec<(&Digest, usize)> = vec![(&root.digest, 0)];
        while let Some((digest, next)) = stack.pop() {
            if placed.contains(digest) {
                continue;
            }
            visiting.insert(digest);
            let deps = needs.get(digest).map(Vec::as_slice).unwrap_or_default();
            match deps[next.min(deps.len())..]
                .iter()
                .position(|d| !placed.contains(d) && !visiting.contains(d))
            {
                Some(offset) => {
                    let at = next + offset;
                    stack.push((digest, at + 1));
                    stack.push((deps[at], 0));
                }
                None => {
                    visiting.remove(digest);
                    placed.insert(digest);
                    order.push(digest.clone());
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::sha256_of(&[n])
    }

    fn manifest(n: u8, pushed_at: i64, subject: Option<u8>) -> GraphManifest {
        GraphManifest {
            digest: digest(n),
            subject: subject.map(digest),
            pushed_at,
            artifact_type: None,
            subject_deleted_at: None,
        }
    }

    fn position(order: &[Digest], n: u8) -> usize {
        order.iter().position(|d| *d == digest(n)).unwrap()
    }

    #[test]
    fn children_and_subjects_come_first_whatever_the_push_times() {
        // 1 and 2 are platform images of index 3; 4 is an SBOM of 3 and 5 a signature of 4,
        // all with push times that would put them in the wrong order.
        let manifests = vec![
            manifest(5, 1, Some(4)),
            manifest(4, 2, Some(3)),
            manifest(3, 3, None),
            manifest(2, 4, None),
            manifest(1, 5, None),
        ];
        let children = vec![(digest(3), digest(1)), (digest(3), digest(2))];
        let order = dependency_order(&manifests, &children);
        assert_eq!(order.len(), 5);
        assert!(position(&order, 1) < position(&order, 3));
        assert!(position(&order, 2) < position(&order, 3));
        assert!(position(&order, 3) < position(&order, 4));
        assert!(position(&order, 4) < position(&order, 5));
        // Among free manifests the push order holds: 2 was pushed before 1.
        assert!(position(&order, 2) < position(&order, 1));
    }

    #[test]
    fn an_absent_subject_or_child_is_no_dependency() {
        let manifests = vec![manifest(1, 2, Some(9)), manifest(2, 1, None)];
        let order = dependency_order(&manifests, &[(digest(2), digest(8))]);
        assert_eq!(order, vec![digest(2), digest(1)]);
    }

    #[test]
    fn a_long_referrer_chain_is_ordered_without_recursion() {
        let manifests: Vec<GraphManifest> = (0..=200u8)
            .rev()
            .map(|n| manifest(n, i64::from(200 - n), n.checked_sub(1)))
            .collect();
        let order = dependency_order(&manifests, &[]);
        assert_eq!(order, (0..=200u8).map(digest).collect::<Vec<_>>());
    }
}
