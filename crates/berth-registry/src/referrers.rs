//! The referrers API: manifests whose `subject` is a given manifest, from the reverse index.

use berth_metadata::Referrer;
use berth_oci::{Digest, RepoName};

use crate::error::{RegistryError, Result};
use crate::Registry;

/// One page of referrers; `next` is the cursor for the following page, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrersPage {
    pub referrers: Vec<Referrer>,
    pub next: Option<Digest>,
}

impl Registry {
    /// Referrers of `subject` in `repo`, ordered by digest, after the cursor `after`, filtered
    /// to `artifact_types` when that is not empty. The subject need not exist.
    pub async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_types: &[String],
        after: Option<&Digest>,
        n: Option<u32>,
    ) -> Result<ReferrersPage> {
        if !self.meta.repository_exists(repo).await? {
            return Err(RegistryError::NameUnknown(repo.clone()));
        }
        let limit = n
            .unwrap_or(self.config.referrers_page_size)
            .clamp(1, self.config.referrers_page_size);
        let mut referrers = self
            .meta
            .list_referrers(repo, subject, artifact_types, after, limit + 1)
            .await?;
        let more = referrers.len() > limit as usize;
        referrers.truncate(limit as usize);
        let next = more
            .then(|| referrers.last().map(|r| r.digest.clone()))
            .flatten();
        Ok(ReferrersPage { referrers, next })
    }
}
