//! The referrers API: manifests whose `subject` is a given manifest, from the reverse index.

use std::collections::{HashMap, HashSet};

use berth_metadata::{Referrer, ReferrerCursor, ReferrerOrder};
use berth_oci::{Digest, RepoName};

use crate::error::Result;
use crate::Registry;

/// One page of referrers; `next` is the cursor for the following page, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrersPage {
    pub referrers: Vec<Referrer>,
    pub next: Option<ReferrerCursor>,
}

impl Registry {
    /// Referrers of `subject` in `repo`, in `order`, after the cursor `after`, filtered to
    /// `artifact_types` when that is not empty, at most `n` (capped by the configured page
    /// size). Neither the subject nor the repository need exist: a referrers request is
    /// never answered "not found" (distribution-spec "Listing Referrers"), only with an empty
    /// list.
    pub async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_types: &[String],
        order: ReferrerOrder,
        after: Option<&ReferrerCursor>,
        n: Option<u32>,
    ) -> Result<ReferrersPage> {
        if n == Some(0) {
            // As for tag lists: `n=0` asks for an empty page with no next one.
            return Ok(ReferrersPage {
                referrers: Vec::new(),
                next: None,
            });
        }
        let limit = n
            .unwrap_or(self.config.referrers_page_size)
            .clamp(1, self.config.referrers_page_size.max(1));
        let mut referrers = self
            .meta
            .list_referrers(repo, subject, artifact_types, order, after, limit + 1)
            .await?;
        let more = referrers.len() > limit as usize;
        referrers.truncate(limit as usize);
        let next = more
            .then(|| {
                referrers.last().map(|r| ReferrerCursor {
                    created_at: r.created_at,
                    digest: r.digest.clone(),
                })
            })
            .flatten();
        Ok(ReferrersPage { referrers, next })
    }
}

/// A referrer with the referrers that refer to it in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrerNode {
    pub referrer: Referrer,
    pub referrers: Vec<ReferrerNode>,
}

/// Most nodes one graph request returns, whatever the depth: the cost stays bounded.
pub const MAX_GRAPH_NODES: usize = 10_000;

impl Registry {
    /// The referrers of `subject`, and theirs, down to `depth` levels (a signature on an SBOM
    /// on an image), at most [`MAX_GRAPH_NODES`] nodes: one index read per level, whatever
    /// the number of nodes on it. Each node's referrers are in digest order. A digest already
    /// shown (nearer the subject, or earlier on the same level) is not shown again, so cycles
    /// end. Empty, not an error, for a repository that does not exist, like every referrers
    /// listing.
    pub async fn referrers_graph(
        &self,
        repo: &RepoName,
        subject: &Digest,
        depth: u32,
    ) -> Result<Vec<ReferrerNode>> {
        let mut seen = HashSet::from([subject.clone()]);
        // Every node found, with the indexes of its own referrers in `found`.
        let mut found: Vec<(Referrer, Vec<usize>)> = Vec::new();
        let mut top: Vec<usize> = Vec::new();
        // The subjects of the level being read: the subject itself, then each level's nodes.
        let mut level: Vec<(Digest, Option<usize>)> = vec![(subject.clone(), None)];
        for _ in 0..depth {
            let budget = MAX_GRAPH_NODES.saturating_sub(found.len());
            if level.is_empty() || budget == 0 {
                break;
            }
            let parents: HashMap<Digest, Option<usize>> = level.iter().cloned().collect();
            let mut subjects: Vec<Digest> = level.into_iter().map(|(d, _)| d).collect();
            subjects.sort();
            let rows = self
                .meta
                .referrers_of_subjects(repo, &subjects, budget as u32)
                .await?;
            // The next level in the order of this one: subjects by digest, then referrers.
            let mut next = Vec::new();
            for (of, referrer) in rows {
                if !seen.insert(referrer.digest.clone()) {
                    continue;
                }
                let index = found.len();
                match parents.get(&of).copied().flatten() {
                    Some(parent) => found[parent].1.push(index),
                    None => top.push(index),
                }
                next.push((referrer.digest.clone(), Some(index)));
                found.push((referrer, Vec::new()));
            }
            level = next;
        }
        Ok(top.iter().map(|&i| tree(&found, i)).collect())
    }
}

impl Registry {
    /// The bytes of those of `digests` that are manifests of `repo`, in digest order, in one
    /// metadata read (absent ones are left out): what the graph extension embeds as `data`.
    pub async fn manifest_bodies(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<Vec<(Digest, bytes::Bytes)>> {
        Ok(self.meta.manifest_bodies(repo, digests).await?)
    }
}

/// The node `index` of `found` with its referrers, nested.
fn tree(found: &[(Referrer, Vec<usize>)], index: usize) -> ReferrerNode {
    let (referrer, below) = &found[index];
    ReferrerNode {
        referrer: referrer.clone(),
        referrers: below.iter().map(|&i| tree(found, i)).collect(),
    }
}
