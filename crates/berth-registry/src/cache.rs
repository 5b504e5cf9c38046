//! Read caches in front of metadata for the hottest reads (manifests by tag, the first page
//! of a tag list), invalidated per repository on every write that could change them.
//!
//! Each repository has a generation, bumped after every such write commits. A value is cached
//! with the generation read before it was fetched and is served only while that generation is
//! current, so a fetch that raced with a write can never be served after the write returned.
//! The generations are per process, so the caches serve only a metadata store no other
//! process writes (the embedded default). On a shared store (several nodes on one
//! PostgreSQL), the registry reads these through to the database every time: a tag moved on
//! one node is served new by every other at once, and the read costs one indexed query, the
//! same as checking a version would.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};

use berth_oci::RepoName;

/// Entries kept per cache before it starts over; bounds memory without bookkeeping.
const MAX_ENTRIES: usize = 16_384;

/// Per-repository write generations.
#[derive(Default)]
pub struct Generations {
    current: Mutex<HashMap<RepoName, u64>>,
}

impl Generations {
    pub fn get(&self, repo: &RepoName) -> u64 {
        *self
            .current
            .lock()
            .expect("generations lock")
            .get(repo)
            .unwrap_or(&0)
    }

    /// Marks every cached value of `repo` stale; call after the write has committed.
    pub fn bump(&self, repo: &RepoName) {
        *self
            .current
            .lock()
            .expect("generations lock")
            .entry(repo.clone())
            .or_default() += 1;
    }
}

/// A cached value and the repository generation it belongs to.
type Entry<V> = (u64, Arc<V>);

/// A cache of values per (repository, key), valid for one repository generation.
pub struct RepoCache<K, V> {
    /// The `cache` label of its `berth_cache_requests_total`.
    name: &'static str,
    /// Its hit and miss counters, registered on the first lookup: by then `berth serve` has
    /// installed its recorder, and a lookup then costs no search of the recorder's registry.
    counters: OnceLock<crate::metrics::CacheCounters>,
    entries: Mutex<HashMap<(RepoName, K), Entry<V>>>,
}

impl<K: Eq + Hash + Clone, V> RepoCache<K, V> {
    /// An empty cache whose lookups are counted under `name`.
    pub fn named(name: &'static str) -> Self {
        RepoCache {
            name,
            counters: OnceLock::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value cached for `generation`; every lookup counts as a hit or a miss.
    pub fn get(&self, repo: &RepoName, key: &K, generation: u64) -> Option<Arc<V>> {
        let entries = self.entries.lock().expect("cache lock");
        let found = match entries.get(&(repo.clone(), key.clone())) {
            Some((g, value)) if *g == generation => Some(value.clone()),
            _ => None,
        };
        self.counters
            .get_or_init(|| crate::metrics::CacheCounters::named(self.name))
            .count(found.is_some());
        found
    }

    /// Caches `value`, fetched when `generation` was current, unless a write has since bumped it.
    pub fn put(
        &self,
        generations: &Generations,
        repo: &RepoName,
        key: K,
        generation: u64,
        value: Arc<V>,
    ) {
        let mut entries = self.entries.lock().expect("cache lock");
        if generations.get(repo) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((repo.clone(), key), (generation, value));
    }
}
