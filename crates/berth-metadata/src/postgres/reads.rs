//! Reading manifest rows, tags, upload sessions and the referrers index.
//!
//! Each read is one statement in autocommit (READ COMMITTED): it sees one committed state,
//! and none needs more, since every write re-checks what it depends on in its own transaction.

use berth_oci::{Digest, RepoName, Tag, UploadId};
use bytes::Bytes;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::parse_column;
use crate::error::Result;
use crate::model::{Referrer, ReferrerCursor, StoredManifest, UploadRecord};

fn stored(row: &PgRow) -> Result<StoredManifest> {
    Ok(StoredManifest {
        digest: parse_column(row.get::<&str, _>(0))?,
        media_type: row.get(1),
        body: Bytes::from(row.get::<Vec<u8>, _>(2)),
        modified_at: row.get(3),
    })
}

pub(super) async fn by_digest(
    pool: &PgPool,
    repo: &RepoName,
    digest: &Digest,
) -> Result<Option<StoredManifest>> {
    let row = sqlx::query(
        "SELECT digest, media_type, body, pushed_at FROM manifests WHERE repo = $1 AND digest = $2",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(stored).transpose()
}

pub(super) async fn by_tag(
    pool: &PgPool,
    repo: &RepoName,
    tag: &Tag,
) -> Result<Option<StoredManifest>> {
    let row = sqlx::query(
        "SELECT m.digest, m.media_type, m.body, t.updated_at FROM tags t
         JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
         WHERE t.repo = $1 AND t.name = $2",
    )
    .bind(repo.as_str())
    .bind(tag.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(stored).transpose()
}

/// Tags compared lowercased, ties by bytes, whatever the database's locale: both keys are
/// computed in the "C" collation, and the page is one range of `tags_lexical` (two statements
/// rather than `$2 IS NULL OR ...`, which a generic plan would turn into a filter over the
/// whole repository's tags).
pub(super) async fn list_tags(
    pool: &PgPool,
    repo: &RepoName,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<String>> {
    let query = match after {
        None => sqlx::query_scalar(
            r#"SELECT name FROM tags WHERE repo = $1
               ORDER BY lower(name) COLLATE "C", name COLLATE "C" LIMIT $2"#,
        ),
        Some(_) => sqlx::query_scalar(
            r#"SELECT name FROM tags WHERE repo = $1
                 AND (lower(name) COLLATE "C", name COLLATE "C")
                     > (lower($3::text) COLLATE "C", $3::text COLLATE "C")
               ORDER BY lower(name) COLLATE "C", name COLLATE "C" LIMIT $2"#,
        ),
    };
    let mut query = query.bind(repo.as_str()).bind(i64::from(limit));
    if let Some(after) = after {
        query = query.bind(after);
    }
    Ok(query.fetch_all(pool).await?)
}

fn record(row: &PgRow) -> Result<UploadRecord> {
    Ok(UploadRecord {
        id: parse_column(row.get::<&str, _>(0))?,
        repo: parse_column(row.get::<&str, _>(1))?,
        created_at: row.get(2),
    })
}

pub(super) async fn upload(pool: &PgPool, id: &UploadId) -> Result<Option<UploadRecord>> {
    let row = sqlx::query("SELECT id, repo, created_at FROM uploads WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(record).transpose()
}

pub(super) async fn uploads_created_before(
    pool: &PgPool,
    before: i64,
) -> Result<Vec<UploadRecord>> {
    let rows = sqlx::query(
        "SELECT id, repo, created_at FROM uploads WHERE created_at < $1
         ORDER BY created_at, id COLLATE \"C\"",
    )
    .bind(before)
    .fetch_all(pool)
    .await?;
    rows.iter().map(record).collect()
}

/// The columns every referrers query selects, in the order `referrer` reads them.
pub(super) const REFERRER_COLUMNS: &str =
    "referrer, media_type, size, artifact_type, annotations, created_at";

/// The filter every referrers query applies: `$3` is an array of artifact types, empty for no
/// filter.
const TYPE_FILTER: &str = "(cardinality($3::text[]) = 0 OR artifact_type = ANY($3::text[]))";

pub(super) fn referrer(row: &PgRow) -> Result<Referrer> {
    Ok(Referrer {
        digest: parse_column(row.get::<&str, _>(0))?,
        media_type: row.get(1),
        size: row.get::<i64, _>(2) as u64,
        artifact_type: row.get(3),
        annotations_json: row.get(4),
        created_at: row.get(5),
    })
}

/// One page of the referrers of a subject.
pub(super) struct ReferrersListing<'a> {
    pub repo: &'a RepoName,
    pub subject: &'a Digest,
    pub artifact_types: &'a [String],
    pub after: Option<&'a ReferrerCursor>,
    pub limit: u32,
}

impl ReferrersListing<'_> {
    /// By digest (byte order), one range read of the primary key.
    pub async fn by_digest(&self, pool: &PgPool) -> Result<Vec<Referrer>> {
        let sql = format!(
            "SELECT {REFERRER_COLUMNS} FROM referrers
             WHERE repo = $1 AND subject = $2 AND referrer > $4 AND {TYPE_FILTER}
             ORDER BY referrer COLLATE \"C\" LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(self.repo.as_str())
            .bind(self.subject.as_str())
            .bind(self.artifact_types)
            .bind(self.after.map_or("", |c| c.digest.as_str()))
            .bind(i64::from(self.limit))
            .fetch_all(pool)
            .await?;
        rows.iter().map(referrer).collect()
    }

    /// Newest `created_at` first, ties by digest, undated referrers last by digest. The rest
    /// of the list after a cursor is three ranges of `referrers_by_created` (the cursor's own
    /// time after its digest, older times, undated), each read at most `limit` rows deep.
    pub async fn newest_first(&self, pool: &PgPool) -> Result<Vec<Referrer>> {
        // Without a cursor: nothing shares its time, every dated row is older than i64::MAX,
        // and every undated row comes after the empty digest. A cursor among the undated rows
        // has passed every dated one.
        let (time, dated_after, undated_after) = match self.after {
            None => (i64::MAX, "", ""),
            Some(ReferrerCursor {
                created_at: Some(t),
                digest,
            }) => (*t, digest.as_str(), ""),
            Some(ReferrerCursor {
                created_at: None,
                digest,
            }) => (i64::MIN, "", digest.as_str()),
        };
        let sql = format!(
            "SELECT {REFERRER_COLUMNS} FROM (
               (SELECT 0 AS part, * FROM referrers
                 WHERE repo = $1 AND subject = $2 AND created_at = $4 AND referrer > $5
                   AND {TYPE_FILTER} ORDER BY referrer LIMIT $7)
               UNION ALL
               (SELECT 1 AS part, * FROM referrers
                 WHERE repo = $1 AND subject = $2 AND created_at < $4 AND {TYPE_FILTER}
                 ORDER BY created_at DESC, referrer LIMIT $7)
               UNION ALL
               (SELECT 2 AS part, * FROM referrers
                 WHERE repo = $1 AND subject = $2 AND created_at IS NULL AND referrer > $6
                   AND {TYPE_FILTER} ORDER BY referrer LIMIT $7)) page
             ORDER BY part, created_at DESC, referrer COLLATE \"C\" LIMIT $7"
        );
        let rows = sqlx::query(&sql)
            .bind(self.repo.as_str())
            .bind(self.subject.as_str())
            .bind(self.artifact_types)
            .bind(time)
            .bind(dated_after)
            .bind(undated_after)
            .bind(i64::from(self.limit))
            .fetch_all(pool)
            .await?;
        rows.iter().map(referrer).collect()
    }
}
