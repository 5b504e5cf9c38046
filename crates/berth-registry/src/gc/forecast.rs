//! The blob half of a dry run: which links and blobs the real run would remove, computed
//! from the manifests it would delete, without deleting anything.
//!
//! The real run deletes manifests first, which leaves their blobs unreferenced, then removes
//! unreferenced links, then blobs no repository links. Reading today's unreferenced links
//! would miss what the doomed manifests still hold, so the forecast asks the store what their
//! deletion frees (`links_unreferenced_without`), and which blobs lose their last link
//! (`blobs_unlinked_without`), under the same cutoff.

use std::collections::{BTreeMap, BTreeSet};

use berth_oci::{Digest, RepoName};

use super::GcReport;
use crate::error::Result;
use crate::Registry;

impl Registry {
    /// Reports the links and blobs a real run would remove once the manifests in `doomed`
    /// (per repository) were gone, all older than `cutoff` (Unix ms).
    pub(super) async fn foresee_blobs(
        &self,
        cutoff: i64,
        doomed: &[(RepoName, Vec<Digest>)],
        report: &mut GcReport,
    ) -> Result<()> {
        let mut links: BTreeSet<(RepoName, Digest)> = self
            .meta
            .unreferenced_links(cutoff)
            .await?
            .into_iter()
            .collect();
        for (repo, manifests) in doomed.iter().filter(|(_, m)| !m.is_empty()) {
            let freed = self
                .meta
                .links_unreferenced_without(repo, manifests, cutoff)
                .await?;
            links.extend(freed.into_iter().map(|digest| (repo.clone(), digest)));
        }
        report.links_removed = links.len();
        let links: Vec<(RepoName, Digest)> = links.into_iter().collect();
        let mut blobs: BTreeMap<Digest, u64> = self
            .meta
            .unlinked_blobs(cutoff)
            .await?
            .into_iter()
            .collect();
        blobs.extend(self.meta.blobs_unlinked_without(&links, cutoff).await?);
        for (digest, size) in blobs {
            report.blobs.push(digest.to_string());
            report.blobs_deleted += 1;
            report.bytes_freed += size;
        }
        Ok(())
    }
}
