//! The referrers API: manifests whose `subject` is a given manifest, from the reverse index.

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
    /// on an image), each level one index read per node. A digest already shown is not
    /// expanded again, so cycles end. Empty, not an error, for a repository that does not
    /// exist, like every referrers listing.
    pub async fn referrers_graph(
        &self,
        repo: &RepoName,
        subject: &Digest,
        depth: u32,
    ) -> Result<Vec<ReferrerNode>> {
        let mut seen = std::collections::HashSet::from([subject.clone()]);
        self.graph_level(repo, subject, depth, &mut seen).await
    }

    fn graph_level<'a>(
        &'a self,
        repo: &'a RepoName,
        subject: &'a Digest,
        depth: u32,
        seen: &'a mut std::collections::HashSet<Digest>,
    ) -> futures::future::BoxFuture<'a, Result<Vec<ReferrerNode>>> {
        Box::pin(async move {
            if depth == 0 || seen.len() >= MAX_GRAPH_NODES {
                return Ok(Vec::new());
            }
            let budget = (MAX_GRAPH_NODES - seen.len()) as u32;
            let level = self
                .meta
                .list_referrers(repo, subject, &[], ReferrerOrder::Digest, None, budget)
                .await?;
            let mut nodes = Vec::with_capacity(level.len());
            for referrer in level {
                if !seen.insert(referrer.digest.clone()) {
                    continue;
                }
                let below = self
                    .graph_level(repo, &referrer.digest, depth - 1, seen)
                    .await?;
                nodes.push(ReferrerNode {
                    referrer,
                    referrers: below,
                });
            }
            Ok(nodes)
        })
    }
}
