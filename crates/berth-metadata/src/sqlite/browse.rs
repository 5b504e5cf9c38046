//! The browse API's reads on SQLite, on the reader pool: tag pages through `tags_lexical` or
//! `tags_by_time`, referrer counts through `referrers_by_type`, repository summaries through
//! the primary keys, `manifests_by_push` and `tags_by_time`.

use async_trait::async_trait;
use berth_oci::{Digest, RepoName};
use bytes::Bytes;
use sqlx::Row;

use super::manifests::{referrer, REFERRER_COLUMNS};
use super::{parse_column, SqliteMetadataStore};
use crate::browse::{
    BrowseReads, ReferrerCount, RepositorySummary, TagCursor, TagOrder, TaggedManifest,
};
use crate::error::Result;
use crate::model::Referrer;

/// JSON array of strings, so that one statement takes a whole list (`json_each`).
fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.into_iter().collect::<Vec<_>>()).expect("strings serialise")
}

/// The keyset condition after a cursor (`?2` its name, `?3` its time) and the order of `order`.
fn tag_page_clauses(order: TagOrder) -> (&'static str, &'static str) {
    match order {
        TagOrder::Name => (
            "t.name COLLATE NOCASE >= ?2 AND (t.name COLLATE NOCASE > ?2 OR t.name > ?2)",
            "t.name COLLATE NOCASE, t.name",
        ),
        TagOrder::NameDescending => (
            "t.name COLLATE NOCASE <= ?2 AND (t.name COLLATE NOCASE < ?2 OR t.name < ?2)",
            "t.name COLLATE NOCASE DESC, t.name DESC",
        ),
        TagOrder::Time => ("(t.updated_at, t.name) > (?3, ?2)", "t.updated_at, t.name"),
        TagOrder::TimeDescending => (
            "(t.updated_at, t.name) < (?3, ?2)",
            "t.updated_at DESC, t.name DESC",
        ),
    }
}

#[async_trait]
impl BrowseReads for SqliteMetadataStore {
    async fn list_tagged_manifests(
        &self,
        repo: &RepoName,
        order: TagOrder,
        after: Option<&TagCursor>,
        limit: u32,
    ) -> Result<Vec<TaggedManifest>> {
        let (keyset, order_by) = tag_page_clauses(order);
        // Without a cursor the condition is left out rather than made always true, so that
        // the plan is one range of the order's index from its start.
        let keyset = if after.is_some() { keyset } else { "1" };
        let sql = format!(
            "SELECT t.name, t.updated_at, m.digest, m.media_type, m.size, m.body
             FROM tags t JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
             WHERE t.repo = ?1 AND {keyset}
             ORDER BY {order_by} LIMIT ?4"
        );
        let rows = sqlx::query(&sql)
            .bind(repo.as_str())
            .bind(after.map(|c| c.name.as_str()))
            .bind(after.map(|c| c.tagged_at))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TaggedManifest {
                    tag: r.get(0),
                    tagged_at: r.get(1),
                    digest: parse_column(r.get::<&str, _>(2))?,
                    media_type: r.get(3),
                    size: r.get::<i64, _>(4) as u64,
                    body: Bytes::from(r.get::<Vec<u8>, _>(5)),
                })
            })
            .collect()
    }

    async fn tags_of_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        limit: u32,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM tags WHERE repo = ?1 AND digest = ?2
             ORDER BY name COLLATE NOCASE, name LIMIT ?3",
        )
        .bind(repo.as_str())
        .bind(digest.as_str())
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn count_referrers(
        &self,
        repo: &RepoName,
        subjects: &[Digest],
    ) -> Result<Vec<ReferrerCount>> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT subject, artifact_type, COUNT(*) FROM referrers
             WHERE repo = ?1 AND subject IN (SELECT value FROM json_each(?2))
             GROUP BY subject, artifact_type ORDER BY subject, artifact_type",
        )
        .bind(repo.as_str())
        .bind(json_list(subjects.iter().map(Digest::as_str)))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReferrerCount {
                    subject: parse_column(r.get::<&str, _>(0))?,
                    artifact_type: r.get(1),
                    count: r.get::<i64, _>(2) as u64,
                })
            })
            .collect()
    }

    async fn search_repositories(
        &self,
        contains: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RepoName>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM repositories r
             WHERE name > ?1 AND (?2 = '' OR instr(name, ?2) > 0)
               AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo = r.name)
             ORDER BY name LIMIT ?3",
        )
        .bind(after.unwrap_or(""))
        .bind(contains)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        names.iter().map(|n| parse_column(n)).collect()
    }

    async fn referrers_of_subjects(
        &self,
        repo: &RepoName,
        subjects: &[Digest],
        limit: u32,
    ) -> Result<Vec<(Digest, Referrer)>> {
        if subjects.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {REFERRER_COLUMNS}, subject FROM referrers
             WHERE repo = ?1 AND subject IN (SELECT value FROM json_each(?2))
             ORDER BY subject, referrer LIMIT ?3"
        );
        let rows = sqlx::query(&sql)
            .bind(repo.as_str())
            .bind(json_list(subjects.iter().map(Digest::as_str)))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| Ok((parse_column(r.get::<&str, _>(6))?, referrer(r)?)))
            .collect()
    }

    async fn manifest_bodies(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<Vec<(Digest, Bytes)>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT digest, body FROM manifests
             WHERE repo = ?1 AND digest IN (SELECT value FROM json_each(?2)) ORDER BY digest",
        )
        .bind(repo.as_str())
        .bind(json_list(digests.iter().map(Digest::as_str)))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_column(r.get::<&str, _>(0))?,
                    Bytes::from(r.get::<Vec<u8>, _>(1)),
                ))
            })
            .collect()
    }

    async fn repository_summaries(&self, repos: &[RepoName]) -> Result<Vec<RepositorySummary>> {
        if repos.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT r.value,
               (SELECT COUNT(*) FROM tags t WHERE t.repo = r.value),
               (SELECT COUNT(*) FROM manifests m WHERE m.repo = r.value),
               (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs l
                 JOIN blobs b ON b.digest = l.digest WHERE l.repo = r.value),
               (SELECT COALESCE(SUM(m.size), 0) FROM manifests m WHERE m.repo = r.value),
               (SELECT MAX(m.pushed_at) FROM manifests m WHERE m.repo = r.value),
               (SELECT MAX(t.updated_at) FROM tags t WHERE t.repo = r.value)
             FROM json_each(?1) r ORDER BY r.key",
        )
        .bind(json_list(repos.iter().map(RepoName::as_str)))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let count = |i: usize| r.get::<i64, _>(i) as u64;
                let pushed: Option<i64> = r.get(5);
                let tagged: Option<i64> = r.get(6);
                Ok(RepositorySummary {
                    repo: parse_column(r.get::<&str, _>(0))?,
                    tags: count(1),
                    manifests: count(2),
                    blob_bytes: count(3),
                    manifest_bytes: count(4),
                    last_push: pushed.max(tagged),
                })
            })
            .collect()
    }
}
