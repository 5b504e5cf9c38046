//! Content discovery: tag lists and the catalog, paginated by `n` and `last`.

use std::sync::Arc;

use berth_oci::RepoName;

use crate::error::{RegistryError, Result};
use crate::Registry;

/// One page of names; `next` is the `last` value for the following page, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<String>,
    pub next: Option<String>,
}

impl Page {
    /// Builds a page from up to `limit + 1` fetched names: the extra one only signals more.
    fn from_fetched(mut items: Vec<String>, limit: u32) -> Page {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more { items.last().cloned() } else { None };
        Page { items, next }
    }
}

impl Registry {
    fn page_limit(&self, n: Option<u32>) -> u32 {
        n.unwrap_or(self.config.max_page_entries)
            .min(self.config.max_page_entries)
    }

    /// Tags of `repo` in lexical order, after `last`, at most `n`.
    pub async fn list_tags(
        &self,
        repo: &RepoName,
        n: Option<u32>,
        last: Option<&str>,
    ) -> Result<Arc<Page>> {
        if !self.meta.repository_exists(repo).await? {
            return Err(RegistryError::NameUnknown(repo.clone()));
        }
        let limit = self.page_limit(n);
        if limit == 0 {
            return Ok(Arc::new(Page {
                items: Vec::new(),
                next: None,
            }));
        }
        // Only a store no other node writes can be cached (see `cache`).
        let first_page = last.is_none() && !self.meta.shared();
        let generation = self.generations.get(repo);
        if first_page {
            if let Some(cached) = self.first_tag_pages.get(repo, &limit, generation) {
                return Ok(cached);
            }
        }
        let fetched = self.meta.list_tags(repo, last, limit + 1).await?;
        let page = Arc::new(Page::from_fetched(fetched, limit));
        if first_page {
            self.first_tag_pages
                .put(&self.generations, repo, limit, generation, page.clone());
        }
        Ok(page)
    }

    /// Repository names for which `keep` holds, in lexical order, after `last`, at most `n`:
    /// the catalog as a caller who may see only some repositories sees it. Pages stay correct
    /// (`next` is set only when a kept name follows), however many names `keep` skips.
    pub async fn catalog_filtered(
        &self,
        n: Option<u32>,
        last: Option<&str>,
        keep: &(dyn Fn(&str) -> bool + Send + Sync),
    ) -> Result<Page> {
        let limit = self.page_limit(n);
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let batch = limit.saturating_add(1);
        let mut kept = Vec::new();
        let mut cursor = last.map(str::to_owned);
        loop {
            let fetched = self
                .meta
                .list_repositories(cursor.as_deref(), batch)
                .await?;
            let exhausted = fetched.len() < batch as usize;
            if let Some(last_seen) = fetched.last() {
                cursor = Some(last_seen.as_str().to_owned());
            }
            kept.extend(
                fetched
                    .into_iter()
                    .map(|r| r.as_str().to_owned())
                    .filter(|name| keep(name)),
            );
            if exhausted || kept.len() > limit as usize {
                return Ok(Page::from_fetched(kept, limit));
            }
        }
    }

    /// Repository names in lexical order, after `last`, at most `n`.
    pub async fn catalog(&self, n: Option<u32>, last: Option<&str>) -> Result<Page> {
        let limit = self.page_limit(n);
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let fetched = self.meta.list_repositories(last, limit + 1).await?;
        let names = fetched.into_iter().map(|r| r.as_str().to_owned()).collect();
        Ok(Page::from_fetched(names, limit))
    }
}
