//! The browse API's reads on PostgreSQL, each one statement in autocommit: tag pages through
//! `tags_lexical` or `tags_by_time`, referrer counts through `referrers_by_type`, repository
//! summaries through the primary keys, `manifests_by_push` and `tags_by_time`. Names and
//! digests compare in byte order (`COLLATE "C"`), as on SQLite.

use async_trait::async_trait;
use berth_oci::{Digest, RepoName};
use bytes::Bytes;
use sqlx::Row;

use super::reads::{referrer, REFERRER_COLUMNS};
use super::{parse_column, PostgresMetadataStore};
use crate::browse::{
    BrowseReads, ReferrerCount, RepositorySummary, TagCursor, TagOrder, TaggedManifest,
};
use crate::error::Result;
use crate::model::Referrer;

/// The keyset condition after a cursor (`$3` its name, `$4` its time, bound only by the time
/// orders) and the order of `order`. Tag names compare lowercased, ties by bytes, both in the
/// "C" collation as `tags_lexical` holds them.
fn tag_page_clauses(order: TagOrder) -> (&'static str, &'static str) {
    match order {
        TagOrder::Name => (
            r#"(lower(t.name) COLLATE "C", t.name COLLATE "C")
                 > (lower($3::text) COLLATE "C", $3::text COLLATE "C")"#,
            r#"lower(t.name) COLLATE "C", t.name COLLATE "C""#,
        ),
        TagOrder::NameDescending => (
            r#"(lower(t.name) COLLATE "C", t.name COLLATE "C")
                 < (lower($3::text) COLLATE "C", $3::text COLLATE "C")"#,
            r#"lower(t.name) COLLATE "C" DESC, t.name COLLATE "C" DESC"#,
        ),
        TagOrder::Time => (
            r#"(t.updated_at, t.name) > ($4::bigint, $3::text COLLATE "C")"#,
            "t.updated_at, t.name",
        ),
        TagOrder::TimeDescending => (
            r#"(t.updated_at, t.name) < ($4::bigint, $3::text COLLATE "C")"#,
            "t.updated_at DESC, t.name DESC",
        ),
    }
}

#[async_trait]
impl BrowseReads for PostgresMetadataStore {
    async fn list_tagged_manifests(
        &self,
        repo: &RepoName,
        order: TagOrder,
        after: Option<&TagCursor>,
        limit: u32,
    ) -> Result<Vec<TaggedManifest>> {
        let (keyset, order_by) = tag_page_clauses(order);
        // A statement per shape rather than `$3 IS NULL OR ...`, which a generic plan would
        // turn into a filter over the whole repository's tags.
        let keyset = if after.is_some() { keyset } else { "TRUE" };
        let sql = format!(
            "SELECT t.name, t.updated_at, m.digest, m.media_type, m.size, m.body
             FROM tags t JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
             WHERE t.repo = $1 AND {keyset}
             ORDER BY {order_by} LIMIT $2"
        );
        let mut query = sqlx::query(&sql).bind(repo.as_str()).bind(i64::from(limit));
        if let Some(cursor) = after {
            query = query.bind(cursor.name.as_str());
            if matches!(order, TagOrder::Time | TagOrder::TimeDescending) {
                query = query.bind(cursor.tagged_at);
            }
        }
        let rows = query.fetch_all(&self.pool).await?;
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
            r#"SELECT name FROM tags WHERE repo = $1 AND digest = $2
               ORDER BY lower(name) COLLATE "C", name COLLATE "C" LIMIT $3"#,
        )
        .bind(repo.as_str())
        .bind(digest.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        let subjects: Vec<&str> = subjects.iter().map(Digest::as_str).collect();
        let rows = sqlx::query(
            r#"SELECT subject, artifact_type, COUNT(*) FROM referrers
               WHERE repo = $1 AND subject = ANY($2::text[])
               GROUP BY subject, artifact_type
               ORDER BY subject COLLATE "C", artifact_type COLLATE "C" NULLS FIRST"#,
        )
        .bind(repo.as_str())
        .bind(&subjects)
        .fetch_all(&self.pool)
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
            r#"SELECT name FROM repositories r
               WHERE name > $1 AND ($2 = '' OR strpos(name, $2) > 0)
                 AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo = r.name)
               ORDER BY name COLLATE "C" LIMIT $3"#,
        )
        .bind(after.unwrap_or(""))
        .bind(contains)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
        let subjects: Vec<&str> = subjects.iter().map(Digest::as_str).collect();
        let sql = format!(
            r#"SELECT {REFERRER_COLUMNS}, subject FROM referrers
               WHERE repo = $1 AND subject = ANY($2::text[])
               ORDER BY subject COLLATE "C", referrer COLLATE "C" LIMIT $3"#
        );
        let rows = sqlx::query(&sql)
            .bind(repo.as_str())
            .bind(&subjects)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
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
        let digests: Vec<&str> = digests.iter().map(Digest::as_str).collect();
        let rows = sqlx::query(
            r#"SELECT digest, body FROM manifests WHERE repo = $1 AND digest = ANY($2::text[])
               ORDER BY digest COLLATE "C""#,
        )
        .bind(repo.as_str())
        .bind(&digests)
        .fetch_all(&self.pool)
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
        let names: Vec<&str> = repos.iter().map(RepoName::as_str).collect();
        let rows = sqlx::query(
            "SELECT r.name,
               (SELECT COUNT(*) FROM tags t WHERE t.repo = r.name),
               (SELECT COUNT(*) FROM manifests m WHERE m.repo = r.name),
               (SELECT COALESCE(SUM(b.size), 0)::BIGINT FROM repository_blobs l
                 JOIN blobs b ON b.digest = l.digest WHERE l.repo = r.name),
               (SELECT COALESCE(SUM(m.size), 0)::BIGINT FROM manifests m WHERE m.repo = r.name),
               (SELECT MAX(m.pushed_at) FROM manifests m WHERE m.repo = r.name),
               (SELECT MAX(t.updated_at) FROM tags t WHERE t.repo = r.name)
             FROM unnest($1::text[]) WITH ORDINALITY AS r(name, position)
             ORDER BY r.position",
        )
        .bind(&names)
        .fetch_all(&self.pool)
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
