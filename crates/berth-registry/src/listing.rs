//! Content discovery: tag lists and the catalog, paginated by `n` and `last`.

use std::future::Future;
use std::sync::Arc;

use berth_oci::RepoName;

use crate::error::{RegistryError, Result};
use crate::Registry;

/// Repository names one filtered listing (the catalog or the browse API's repositories, for
/// a caller who may see only some) examines at most per request: beyond it the page ends
/// early, with a `next` at the last name examined. Unbounded: that last name is usually one
/// the caller may not see, and a cursor must not reveal it. The names the caller may not see
/// are skipped `SCAN_BATCH` at a time instead, so that they cost little; a smaller budget is
/// for tests of the paging, and for a deployment that shares its repository names anyway.
pub const LISTING_BUDGET: u32 = u32::MAX;

/// Names read per query once the first one (`limit + 1`, as the unfiltered listing reads)
/// did not fill the page: the names a caller may not see are skipped in few queries.
const SCAN_BATCH: u32 = 500;

/// What [`scan_filtered`] kept, and where the following page starts, when there is one.
pub(crate) struct Scanned {
    pub(crate) kept: Vec<RepoName>,
    pub(crate) next: Option<String>,
}

/// Up to `limit` (at least 1) of the names `fetch(after, batch)` reads (at most `batch`
/// names strictly after `after`, in lexical order) for which `keep` holds, after `last`.
///
/// The first read asks for `limit + 1` names, the following ones for at least
/// [`SCAN_BATCH`]; no more than `budget` names (but at least `limit + 1`) are read in all.
/// `next` is the last name of the page when a kept name follows it; when the budget ran
/// out first, it is the last name examined, which the page does not show (the following
/// request goes on from there). `None` when the names ran out.
pub(crate) async fn scan_filtered<F, Fut>(
    last: Option<&str>,
    limit: u32,
    budget: u32,
    keep: impl Fn(&RepoName) -> bool,
    mut fetch: F,
) -> Result<Scanned>
where
    F: FnMut(Option<String>, u32) -> Fut,
    Fut: Future<Output = Result<Vec<RepoName>>>,
{
    let limit = limit.max(1);
    let first = limit.saturating_add(1);
    let budget = budget.max(first);
    let mut kept: Vec<RepoName> = Vec::new();
    let mut cursor = last.map(str::to_owned);
    let mut examined: u32 = 0;
    let mut batch = first;
    loop {
        let asked = batch.min(budget - examined);
        let fetched = fetch(cursor.clone(), asked).await?;
        let exhausted = fetched.len() < asked as usize;
        examined = examined.saturating_add(fetched.len() as u32);
        if let Some(last_seen) = fetched.last() {
            cursor = Some(last_seen.as_str().to_owned());
        }
        kept.extend(fetched.into_iter().filter(|name| keep(name)));
        if kept.len() > limit as usize {
            kept.truncate(limit as usize);
            let next = kept.last().map(|r| r.as_str().to_owned());
            return Ok(Scanned { kept, next });
        }
        if exhausted {
            return Ok(Scanned { kept, next: None });
        }
        if examined >= budget {
            return Ok(Scanned { kept, next: cursor });
        }
        batch = first.max(SCAN_BATCH);
    }
}

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
    /// the catalog as a caller who may see only some repositories sees it. At most `budget`
    /// names are examined (see [`scan_filtered`]), so a page may hold fewer than `n` names,
    /// or none, and still have a `next`: the name it stopped at.
    pub async fn catalog_filtered(
        &self,
        n: Option<u32>,
        last: Option<&str>,
        keep: &(dyn Fn(&str) -> bool + Send + Sync),
        budget: u32,
    ) -> Result<Page> {
        let limit = self.page_limit(n);
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let meta = &self.meta;
        let scanned = scan_filtered(
            last,
            limit,
            budget,
            |name| keep(name.as_str()),
            |after, batch| async move {
                Ok(meta.list_repositories(after.as_deref(), batch).await?)
            },
        )
        .await?;
        Ok(Page {
            items: scanned
                .kept
                .into_iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            next: scanned.next,
        })
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

#[cfg(test)]
mod scan_tests {
    use std::cell::RefCell;

    use super::*;

    /// Follows [`scan_filtered`] over `names` from page to page: each page's names and
    /// `next`, and the sizes of the reads each page made.
    async fn pages(
        names: &[String],
        limit: u32,
        budget: u32,
        keep: impl Fn(&RepoName) -> bool + Copy,
    ) -> Vec<(Vec<String>, Option<String>, Vec<u32>)> {
        let mut pages = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let reads = RefCell::new(Vec::new());
            let scanned = scan_filtered(last.as_deref(), limit, budget, keep, |after, n| {
                reads.borrow_mut().push(n);
                let found: Vec<RepoName> = names
                    .iter()
                    .filter(|name| after.as_deref().is_none_or(|a| name.as_str() > a))
                    .take(n as usize)
                    .map(|name| name.parse().unwrap())
                    .collect();
                async move { Ok(found) }
            })
            .await
            .unwrap();
            let kept = scanned.kept.iter().map(|r| r.as_str().to_owned()).collect();
            last = scanned.next.clone();
            pages.push((kept, scanned.next, reads.into_inner()));
            if last.is_none() {
                return pages;
            }
        }
    }

    fn names() -> Vec<String> {
        (0..3000).map(|i| format!("a{i:04}")).collect()
    }

    #[tokio::test]
    async fn a_scan_reads_few_large_batches_and_stops_at_its_budget() {
        let all = names();
        let visible = |r: &RepoName| matches!(r.as_str(), "a1500" | "a2900");
        let listed = pages(&all, 1, 1000, visible).await;
        let expected = vec![
            // n + 1 first, as an unfiltered page reads, then batches up to the budget.
            (vec![], Some("a0999".to_owned()), vec![2, 500, 498]),
            (
                vec!["a1500".to_owned()],
                Some("a1999".into()),
                vec![2, 500, 498],
            ),
            // The budget ran out on the last name: a last, empty page says so.
            (
                vec!["a2900".to_owned()],
                Some("a2999".into()),
                vec![2, 500, 498],
            ),
            (vec![], None, vec![2]),
        ];
        assert_eq!(listed, expected);

        // Everything visible: one read of n + 1 a page, as without a filter.
        let listed = pages(&all[..25], 10, 1000, |_| true).await;
        let reads: Vec<_> = listed.iter().map(|(_, _, reads)| reads.clone()).collect();
        assert_eq!(reads, [vec![11], vec![11], vec![11]]);
        let seen: Vec<String> = listed.into_iter().flat_map(|(kept, ..)| kept).collect();
        assert_eq!(seen, all[..25]);

        // A page larger than the budget is still read whole.
        let listed = pages(&all, 2000, 1000, |_| true).await;
        assert_eq!(listed[0].2, [2001]);
        assert_eq!(listed[0].1.as_deref(), Some("a1999"));
    }
}
