//! The part of a repository's manifest graph that decides whether some manifests live: they
//! and every manifest they can be reached from, for a preview that marks a few manifests
//! without reading a whole repository.

use std::collections::BTreeSet;

use berth_oci::{Digest, RepoName};
use sqlx::{Row, SqlitePool};

use super::collection::{edge, graph_manifest, graph_tag};
use super::forecast::json_page;
use crate::error::Result;
use crate::model::ManifestGraph;

pub(super) async fn ancestry_graph(
    pool: &SqlitePool,
    repo: &RepoName,
    seeds: &[Digest],
    removed_tag: Option<&str>,
) -> Result<ManifestGraph> {
    let seeds: BTreeSet<&str> = seeds.iter().map(Digest::as_str).collect();
    // One snapshot, so that the closure, its tags and its edges agree.
    let mut tx = pool.begin().await?;
    // Upward along both edges liveness flows down, subject to referrer and index to child,
    // through manifests that are present (an index's edge outlives a deleted child). Every
    // step is a primary-key or `manifest_children_by_child` lookup: `CROSS JOIN` keeps
    // SQLite's join order, which would otherwise scan the repository's rows for each seed.
    // Nothing is climbed above a manifest a remaining tag holds: it lives either way.
    let rows = sqlx::query(
        "WITH RECURSIVE up(digest, subject, pushed_at, artifact_type) AS (
             SELECT m.digest, m.subject, m.pushed_at, m.artifact_type FROM json_each(?2) j
             CROSS JOIN manifests m ON m.repo = ?1 AND m.digest = j.value
             UNION
             SELECT s.digest, s.subject, s.pushed_at, s.artifact_type FROM up
             CROSS JOIN manifests s ON s.repo = ?1 AND s.digest = up.subject
             WHERE NOT EXISTS (SELECT 1 FROM tags t INDEXED BY tags_by_digest
                               WHERE t.repo = ?1 AND t.digest = up.digest AND t.name IS NOT ?3)
             UNION
             SELECT p.digest, p.subject, p.pushed_at, p.artifact_type FROM up
             CROSS JOIN manifest_children c ON c.repo = ?1 AND c.child = up.digest
             CROSS JOIN manifests p ON p.repo = ?1 AND p.digest = c.parent
             WHERE NOT EXISTS (SELECT 1 FROM tags t INDEXED BY tags_by_digest
                               WHERE t.repo = ?1 AND t.digest = up.digest AND t.name IS NOT ?3)
         )
         SELECT up.digest, up.subject, up.pushed_at, up.artifact_type,
                (SELECT r.orphaned_at FROM referrers r
                 WHERE r.repo = ?1 AND r.subject = up.subject AND r.referrer = up.digest)
         FROM up ORDER BY up.digest",
    )
    .bind(repo.as_str())
    .bind(json_page(seeds.iter().copied()))
    .bind(removed_tag)
    .fetch_all(&mut *tx)
    .await?;
    let mut graph = ManifestGraph {
        manifests: rows.iter().map(graph_manifest).collect::<Result<_>>()?,
        ..ManifestGraph::default()
    };
    let closure = json_page(graph.manifests.iter().map(|m| m.digest.as_str()));
    // Without `INDEXED BY`, SQLite reads every tag of the repository for each manifest.
    let rows = sqlx::query(
        "SELECT t.name, t.digest, t.updated_at FROM json_each(?2) j
         CROSS JOIN tags t INDEXED BY tags_by_digest ON t.repo = ?1 AND t.digest = j.value
         ORDER BY t.name",
    )
    .bind(repo.as_str())
    .bind(&closure)
    .fetch_all(&mut *tx)
    .await?;
    graph.tags = rows.iter().map(graph_tag).collect::<Result<_>>()?;
    // Edges between members: above a manifest a tag holds, the climb stopped.
    let rows = sqlx::query(
        "SELECT c.parent, c.child FROM json_each(?2) j
         CROSS JOIN manifest_children c ON c.repo = ?1 AND c.child = j.value
         ORDER BY c.parent, c.child",
    )
    .bind(repo.as_str())
    .bind(&closure)
    .fetch_all(&mut *tx)
    .await?;
    let members: BTreeSet<&str> = graph.manifests.iter().map(|m| m.digest.as_str()).collect();
    graph.children = rows
        .iter()
        .filter(|row| members.contains(row.get::<&str, _>(0)))
        .map(edge)
        .collect::<Result<_>>()?;
    tx.commit().await?;
    Ok(graph)
}
