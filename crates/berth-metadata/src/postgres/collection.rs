//! Reads for garbage collection: edges and candidates, never manifest bodies.
//!
//! Every read goes in pages of `PAGE` rows by keyset (byte order, `COLLATE "C"`), each its own
//! statement: a snapshot held for minutes over a large registry would hold back vacuum on every
//! node's tables. Collections never relied on one snapshot: every deletion re-checks its target
//! in its own serializable transaction.

use berth_oci::{Digest, RepoName};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::parse_column;
use crate::error::Result;
use crate::model::{GraphManifest, GraphTag, ManifestGraph};

/// Rows per read transaction (a handful in this crate's tests, so that they cross pages).
pub(super) const PAGE: i64 = if cfg!(test) { 2 } else { 5_000 };

pub(super) async fn manifest_graph(pool: &PgPool, repo: &RepoName) -> Result<ManifestGraph> {
    let mut graph = ManifestGraph::default();
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            r#"SELECT m.digest, m.subject, m.pushed_at, m.artifact_type, r.orphaned_at
             FROM manifests m LEFT JOIN referrers r
               ON r.repo = m.repo AND r.subject = m.subject AND r.referrer = m.digest
             WHERE m.repo = $1 AND m.digest > $2 ORDER BY m.digest COLLATE "C" LIMIT $3"#,
        )
        .bind(repo.as_str())
        .bind(&after)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        for row in &rows {
            graph.manifests.push(graph_manifest(row)?);
        }
        match last_text(&rows, 0) {
            Some(last) => after = last,
            None => break,
        }
    }
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            r#"SELECT name, digest, updated_at FROM tags
             WHERE repo = $1 AND name > $2 ORDER BY name COLLATE "C" LIMIT $3"#,
        )
        .bind(repo.as_str())
        .bind(&after)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        for row in &rows {
            graph.tags.push(graph_tag(row)?);
        }
        match last_text(&rows, 0) {
            Some(last) => after = last,
            None => break,
        }
    }
    let (mut parent, mut child) = (String::new(), String::new());
    loop {
        let rows = sqlx::query(
            r#"SELECT parent, child FROM manifest_children
             WHERE repo = $1 AND (parent, child) > ($2, $3)
             ORDER BY parent COLLATE "C", child COLLATE "C" LIMIT $4"#,
        )
        .bind(repo.as_str())
        .bind(&parent)
        .bind(&child)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        for row in &rows {
            graph.children.push(edge(row)?);
        }
        match (last_text(&rows, 0), last_text(&rows, 1)) {
            (Some(p), Some(c)) => (parent, child) = (p, c),
            _ => break,
        }
    }
    Ok(graph)
}

/// Blob links older than `before` that no manifest of their repository references.
pub(super) async fn unreferenced_links(
    pool: &PgPool,
    before: i64,
) -> Result<Vec<(RepoName, Digest)>> {
    let mut links = Vec::new();
    let (mut repo, mut digest) = (String::new(), String::new());
    loop {
        // Pages over all links, so that each read is short even when few qualify.
        let rows = sqlx::query(
            "SELECT l.repo, l.digest, l.linked_at < $3 AND NOT EXISTS
                 (SELECT 1 FROM blob_references r WHERE r.repo = l.repo AND r.blob = l.digest)
             FROM repository_blobs l WHERE (l.repo, l.digest) > ($1, $2)
             ORDER BY l.repo COLLATE \"C\", l.digest COLLATE \"C\" LIMIT $4",
        )
        .bind(&repo)
        .bind(&digest)
        .bind(before)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        for row in rows.iter().filter(|r| r.get::<bool, _>(2)) {
            links.push((
                parse_column(row.get::<&str, _>(0))?,
                parse_column(row.get::<&str, _>(1))?,
            ));
        }
        match (last_text(&rows, 0), last_text(&rows, 1)) {
            (Some(r), Some(d)) => (repo, digest) = (r, d),
            _ => return Ok(links),
        }
    }
}

/// Blobs recorded before `before` that no repository links.
pub(super) async fn unlinked_blobs(pool: &PgPool, before: i64) -> Result<Vec<(Digest, u64)>> {
    let mut blobs = Vec::new();
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            "SELECT b.digest, b.size, b.created_at < $2
               AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest)
             FROM blobs b WHERE b.digest > $1 ORDER BY b.digest COLLATE \"C\" LIMIT $3",
        )
        .bind(&after)
        .bind(before)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        for row in rows.iter().filter(|r| r.get::<bool, _>(2)) {
            blobs.push((
                parse_column(row.get::<&str, _>(0))?,
                row.get::<i64, _>(1) as u64,
            ));
        }
        match last_text(&rows, 0) {
            Some(last) => after = last,
            None => return Ok(blobs),
        }
    }
}

/// A row `(digest, subject, pushed_at, artifact_type, orphaned_at)` as a graph manifest.
pub(super) fn graph_manifest(row: &PgRow) -> Result<GraphManifest> {
    let subject: Option<&str> = row.get(1);
    Ok(GraphManifest {
        digest: parse_column(row.get::<&str, _>(0))?,
        subject: subject.map(parse_column).transpose()?,
        pushed_at: row.get(2),
        artifact_type: row.get(3),
        subject_deleted_at: row.get(4),
    })
}

/// A row `(name, digest, updated_at)` as a graph tag.
pub(super) fn graph_tag(row: &PgRow) -> Result<GraphTag> {
    Ok(GraphTag {
        name: row.get(0),
        digest: parse_column(row.get::<&str, _>(1))?,
        updated_at: row.get(2),
    })
}

/// A row `(parent, child)` as an index edge.
pub(super) fn edge(row: &PgRow) -> Result<(Digest, Digest)> {
    Ok((
        parse_column(row.get::<&str, _>(0))?,
        parse_column(row.get::<&str, _>(1))?,
    ))
}

/// Column `index` of the last row of a page: where the next page starts; none after a page
/// that was not full.
fn last_text(rows: &[PgRow], index: usize) -> Option<String> {
    match rows.len() as i64 {
        PAGE => rows.last().map(|row| row.get::<String, _>(index)),
        _ => None,
    }
}
