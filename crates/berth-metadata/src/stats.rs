//! What the metadata holds, counted for the operator (the `berth_manifests`, `berth_blobs`,
//! `berth_blob_bytes` and `berth_referrers` metrics), and the cap that keeps the referrers'
//! artifact types a low-cardinality label whatever clients push.

/// Most artifact types [`ContentStats::referrers`] names one by one; the referrers of every
/// other type are summed under [`OTHER_ARTIFACT_TYPES`]. Each type becomes a time series of
/// the operator's monitoring, and clients choose the types freely.
pub const MAX_ARTIFACT_TYPES: usize = 20;

/// The artifact type under which the referrers of the less common types are counted.
pub const OTHER_ARTIFACT_TYPES: &str = "other";

/// The artifact type of referrers that have none (neither `artifactType` nor a config media
/// type was recorded).
pub const NO_ARTIFACT_TYPE: &str = "none";

/// Counts of what the store holds, read in one pass over each table's primary index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentStats {
    /// Manifest rows: a manifest pushed to two repositories counts twice.
    pub manifests: u64,
    /// Distinct blobs (blobs are stored once, whatever links them).
    pub blobs: u64,
    /// Bytes those blobs hold.
    pub blob_bytes: u64,
    /// Entries of the referrers index by artifact type, the most common first (ties by
    /// name), at most [`MAX_ARTIFACT_TYPES`] of them, then [`OTHER_ARTIFACT_TYPES`] with the
    /// rest when there is a rest. Types with no referrers are not listed.
    pub referrers: Vec<(String, u64)>,
}

impl ContentStats {
    /// The referrer counts of the [`MAX_ARTIFACT_TYPES`] most common types (`top`, as a
    /// backend reads them: the empty string for no type, in any order) with the remainder of
    /// `total` as [`OTHER_ARTIFACT_TYPES`].
    pub(crate) fn capped_referrers(top: Vec<(String, u64)>, total: u64) -> Vec<(String, u64)> {
        let mut named: Vec<(String, u64)> = top
            .into_iter()
            .map(|(kind, n)| match kind.is_empty() {
                true => (NO_ARTIFACT_TYPE.to_owned(), n),
                false => (kind, n),
            })
            .collect();
        named.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        named.truncate(MAX_ARTIFACT_TYPES);
        let listed: u64 = named.iter().map(|(_, n)| n).sum();
        let rest = total.saturating_sub(listed);
        if rest > 0 {
            match named
                .iter_mut()
                .find(|(kind, _)| kind == OTHER_ARTIFACT_TYPES)
            {
                Some((_, n)) => *n += rest,
                None => named.push((OTHER_ARTIFACT_TYPES.to_owned(), rest)),
            }
        }
        named
    }
}

/// Counts one write batch of `backend` (`sqlite`: the writer's group commit, however many
/// writes it holds; `postgres`: one transaction) and how long it took, in
/// `berth_metadata_write_batches_total{backend}` and
/// `berth_metadata_commit_duration_seconds{backend}`. For SQLite the time covers the batch's
/// statements and its commit (one fsync); for PostgreSQL the commit round trip.
pub(crate) fn batch_committed(backend: &'static str, took: std::time::Duration) {
    metrics::counter!("berth_metadata_write_batches_total", "backend" => backend).increment(1);
    metrics::histogram!("berth_metadata_commit_duration_seconds", "backend" => backend)
        .record(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_types_are_named_and_the_rest_summed() {
        let top: Vec<(String, u64)> = (0..30u64)
            .map(|i| (format!("type/{i:02}"), i + 1))
            .chain([(String::new(), 5)])
            .collect();
        let total: u64 = top.iter().map(|(_, n)| n).sum();
        let capped = ContentStats::capped_referrers(top, total);
        assert_eq!(capped.len(), MAX_ARTIFACT_TYPES + 1);
        assert_eq!(capped[0], ("type/29".to_owned(), 30));
        assert_eq!(capped[MAX_ARTIFACT_TYPES - 1], ("type/10".to_owned(), 11));
        // Types 00..=09 (1 + .. + 10 = 55) and the 5 without a type.
        assert_eq!(
            capped[MAX_ARTIFACT_TYPES],
            (OTHER_ARTIFACT_TYPES.to_owned(), 60)
        );
        assert_eq!(capped.iter().map(|(_, n)| n).sum::<u64>(), total);
    }

    #[test]
    fn few_types_are_all_named_and_no_type_is_none() {
        let capped = ContentStats::capped_referrers(vec![("a".into(), 1), (String::new(), 2)], 3);
        assert_eq!(
            capped,
            vec![(NO_ARTIFACT_TYPE.to_owned(), 2), ("a".to_owned(), 1)]
        );
    }
}
