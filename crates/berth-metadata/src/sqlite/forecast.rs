//! Reads for a dry run: which links and blobs deleting given manifests and links would free,
//! without deleting anything.
//!
//! Like the other collection reads, each query covers one page of its input (`PAGE` digests)
//! in its own short read transaction, and every lookup goes through a primary key or index:
//! `manifest_blobs (repo, manifest, ..)`, `blob_references (repo, blob)`, `repository_blobs
//! (repo, digest)`, `repository_blobs_by_digest` and `blobs (digest)`.

use std::collections::{BTreeMap, BTreeSet};

use berth_oci::{Digest, RepoName};
use sqlx::{Row, SqlitePool};

use super::collection::PAGE;
use super::parse_column;
use crate::error::Result;

/// JSON array of strings, so that one statement takes a whole page (`json_each`).
pub(super) fn json_page<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.into_iter().collect::<Vec<_>>()).expect("strings serialise")
}

/// Links of `repo` older than `before` whose blob only `manifests` reference.
pub(super) async fn links_unreferenced_without(
    pool: &SqlitePool,
    repo: &RepoName,
    manifests: &[Digest],
    before: i64,
) -> Result<Vec<Digest>> {
    let manifests: BTreeSet<&str> = manifests.iter().map(Digest::as_str).collect();
    let manifests: Vec<&str> = manifests.into_iter().collect();
    // How many of the manifests reference each blob.
    let mut going: BTreeMap<String, i64> = BTreeMap::new();
    for page in manifests.chunks(PAGE as usize) {
        let rows = sqlx::query(
            "SELECT b.blob, COUNT(*) FROM json_each(?2) j
             JOIN manifest_blobs b ON b.repo = ?1 AND b.manifest = j.value
             GROUP BY b.blob",
        )
        .bind(repo.as_str())
        .bind(json_page(page.iter().copied()))
        .fetch_all(pool)
        .await?;
        for row in &rows {
            *going.entry(row.get(0)).or_default() += row.get::<i64, _>(1);
        }
    }
    // A link goes when those are all the manifests of the repository that reference its blob.
    let blobs: Vec<(&String, &i64)> = going.iter().collect();
    let mut unreferenced = Vec::new();
    for page in blobs.chunks(PAGE as usize) {
        let rows = sqlx::query(
            "SELECT r.blob, r.manifests FROM json_each(?2) j
             JOIN blob_references r ON r.repo = ?1 AND r.blob = j.value
             JOIN repository_blobs l ON l.repo = ?1 AND l.digest = j.value AND l.linked_at < ?3
             ORDER BY r.blob",
        )
        .bind(repo.as_str())
        .bind(json_page(page.iter().map(|(blob, _)| blob.as_str())))
        .bind(before)
        .fetch_all(pool)
        .await?;
        for row in &rows {
            let blob: &str = row.get(0);
            if going.get(blob) == Some(&row.get::<i64, _>(1)) {
                unreferenced.push(parse_column(blob)?);
            }
        }
    }
    Ok(unreferenced)
}

/// Blobs named by `links`, created before `before`, that only those links hold.
pub(super) async fn blobs_unlinked_without(
    pool: &SqlitePool,
    links: &[(RepoName, Digest)],
    before: i64,
) -> Result<Vec<(Digest, u64)>> {
    // blob -> the repositories whose link to it goes
    let mut going: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (repo, blob) in links {
        going
            .entry(blob.as_str())
            .or_default()
            .insert(repo.as_str());
    }
    let blobs: Vec<&str> = going.keys().copied().collect();
    let mut unlinked = Vec::new();
    for page in blobs.chunks(PAGE as usize) {
        // One row per (blob, linking repository); a blob without links has one NULL row.
        let rows = sqlx::query(
            "SELECT b.digest, b.size, b.created_at < ?2, l.repo FROM json_each(?1) j
             JOIN blobs b ON b.digest = j.value
             LEFT JOIN repository_blobs l ON l.digest = b.digest
             ORDER BY b.digest",
        )
        .bind(json_page(page.iter().copied()))
        .bind(before)
        .fetch_all(pool)
        .await?;
        // digest -> (size, whether it goes)
        let mut page_blobs: BTreeMap<&str, (i64, bool)> = BTreeMap::new();
        for row in &rows {
            let digest: &str = row.get(0);
            let held_elsewhere = row
                .get::<Option<&str>, _>(3)
                .is_some_and(|repo| !going[digest].contains(repo));
            let (_, goes) = page_blobs.entry(digest).or_insert((row.get(1), row.get(2)));
            *goes &= !held_elsewhere;
        }
        for (digest, (size, goes)) in page_blobs {
            if goes {
                unlinked.push((parse_column(digest)?, size as u64));
            }
        }
    }
    Ok(unlinked)
}
