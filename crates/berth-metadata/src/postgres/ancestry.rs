//! The part of a repository's manifest graph that decides whether some manifests live: they
//! and every manifest they can be reached from, for a preview that marks a few manifests
//! without reading a whole repository.

use std::collections::BTreeSet;

use berth_oci::{Digest, RepoName};
use sqlx::{PgPool, Row};

use super::collection::{edge, graph_manifest, graph_tag};
use crate::error::Result;
use crate::model::ManifestGraph;

pub(super) async fn ancestry_graph(
    pool: &PgPool,
    repo: &RepoName,
    seeds: &[Digest],
    removed_tag: Option<&str>,
) -> Result<ManifestGraph> {
    let seeds: Vec<&str> = seeds
        .iter()
        .map(Digest::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // One snapshot, so that the closure, its tags and its edges agree.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    // Upward along both edges liveness flows down, subject to referrer and index to child,
    // through manifests that are present (an index's edge outlives a deleted child). Every
    // step is a primary-key or `manifest_children_by_child` lookup, and the rows climbed
    // carry their columns, so that no join at the end reads the repository's manifests.
    // Nothing is climbed above a manifest a remaining tag holds: it lives either way.
    let rows = sqlx::query(
        r#"WITH RECURSIVE up(digest, subject, pushed_at, artifact_type) AS (
             SELECT m.digest, m.subject, m.pushed_at, m.artifact_type
             FROM unnest($2::text[]) AS j(d)
             JOIN manifests m ON m.repo = $1 AND m.digest = j.d
             UNION
             SELECT n.digest, n.subject, n.pushed_at, n.artifact_type
             FROM up CROSS JOIN LATERAL (
                 SELECT s.digest, s.subject, s.pushed_at, s.artifact_type FROM manifests s
                 WHERE s.repo = $1 AND s.digest = up.subject
                 UNION ALL
                 SELECT p.digest, p.subject, p.pushed_at, p.artifact_type
                 FROM manifest_children c JOIN manifests p ON p.repo = $1 AND p.digest = c.parent
                 WHERE c.repo = $1 AND c.child = up.digest
             ) AS n
             WHERE NOT EXISTS (SELECT 1 FROM tags t
                               WHERE t.repo = $1 AND t.digest = up.digest
                                 AND t.name IS DISTINCT FROM $3)
         )
         SELECT up.digest, up.subject, up.pushed_at, up.artifact_type,
                (SELECT r.orphaned_at FROM referrers r
                 WHERE r.repo = $1 AND r.subject = up.subject AND r.referrer = up.digest)
         FROM up ORDER BY up.digest COLLATE "C""#,
    )
    .bind(repo.as_str())
    .bind(&seeds)
    .bind(removed_tag)
    .fetch_all(&mut *tx)
    .await?;
    let mut graph = ManifestGraph {
        manifests: rows.iter().map(graph_manifest).collect::<Result<_>>()?,
        ..ManifestGraph::default()
    };
    let closure: Vec<&str> = graph.manifests.iter().map(|m| m.digest.as_str()).collect();
    let rows = sqlx::query(
        r#"SELECT t.name, t.digest, t.updated_at FROM unnest($2::text[]) AS j(d)
         JOIN tags t ON t.repo = $1 AND t.digest = j.d ORDER BY t.name COLLATE "C""#,
    )
    .bind(repo.as_str())
    .bind(&closure)
    .fetch_all(&mut *tx)
    .await?;
    graph.tags = rows.iter().map(graph_tag).collect::<Result<_>>()?;
    // Edges between members: above a manifest a tag holds, the climb stopped.
    let rows = sqlx::query(
        r#"SELECT c.parent, c.child FROM unnest($2::text[]) AS j(d)
         JOIN manifest_children c ON c.repo = $1 AND c.child = j.d
         ORDER BY c.parent COLLATE "C", c.child COLLATE "C""#,
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
