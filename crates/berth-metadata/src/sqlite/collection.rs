//! Reads for garbage collection: edges and candidates, never manifest bodies.

use berth_oci::{Digest, RepoName};
use sqlx::{Row, SqlitePool};

use super::parse_column;
use crate::error::Result;
use crate::model::{GraphManifest, GraphTag, ManifestGraph};

pub(super) async fn manifest_graph(pool: &SqlitePool, repo: &RepoName) -> Result<ManifestGraph> {
    let mut graph = ManifestGraph::default();
    let rows = sqlx::query(
        "SELECT digest, subject, pushed_at, artifact_type FROM manifests WHERE repo = ?",
    )
    .bind(repo.as_str())
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let subject: Option<&str> = row.get(1);
        graph.manifests.push(GraphManifest {
            digest: parse_column(row.get::<&str, _>(0))?,
            subject: subject.map(parse_column).transpose()?,
            pushed_at: row.get(2),
            artifact_type: row.get(3),
        });
    }
    let tags = sqlx::query("SELECT name, digest, updated_at FROM tags WHERE repo = ?")
        .bind(repo.as_str())
        .fetch_all(pool)
        .await?;
    for row in &tags {
        graph.tags.push(GraphTag {
            name: row.get(0),
            digest: parse_column(row.get::<&str, _>(1))?,
            updated_at: row.get(2),
        });
    }
    let edges = sqlx::query("SELECT parent, child FROM manifest_children WHERE repo = ?")
        .bind(repo.as_str())
        .fetch_all(pool)
        .await?;
    for row in &edges {
        graph.children.push((
            parse_column(row.get::<&str, _>(0))?,
            parse_column(row.get::<&str, _>(1))?,
        ));
    }
    Ok(graph)
}

pub(super) async fn unreferenced_links(
    pool: &SqlitePool,
    before: i64,
) -> Result<Vec<(RepoName, Digest)>> {
    let rows = sqlx::query(
        "SELECT l.repo, l.digest FROM repository_blobs l WHERE l.linked_at < ?
           AND NOT EXISTS (SELECT 1 FROM manifest_blobs m WHERE m.repo = l.repo AND m.blob = l.digest)",
    )
    .bind(before)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                parse_column(r.get::<&str, _>(0))?,
                parse_column(r.get::<&str, _>(1))?,
            ))
        })
        .collect()
}

pub(super) async fn unlinked_blobs(pool: &SqlitePool, before: i64) -> Result<Vec<(Digest, u64)>> {
    let rows = sqlx::query(
        "SELECT b.digest, b.size FROM blobs b WHERE b.created_at < ?
           AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest)",
    )
    .bind(before)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                parse_column(r.get::<&str, _>(0))?,
                r.get::<i64, _>(1) as u64,
            ))
        })
        .collect()
}
