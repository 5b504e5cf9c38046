//! Reading manifest rows and the referrers index.

use berth_oci::{Digest, RepoName, Tag};
use bytes::Bytes;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::parse_column;
use crate::error::Result;
use crate::model::{Referrer, ReferrerCursor, StoredManifest};

fn stored(row: &SqliteRow) -> Result<StoredManifest> {
    Ok(StoredManifest {
        digest: parse_column(row.get::<&str, _>(0))?,
        media_type: row.get(1),
        body: Bytes::from(row.get::<Vec<u8>, _>(2)),
        modified_at: row.get(3),
    })
}

pub(super) async fn by_digest(
    pool: &SqlitePool,
    repo: &RepoName,
    digest: &Digest,
) -> Result<Option<StoredManifest>> {
    let row = sqlx::query(
        "SELECT digest, media_type, body, pushed_at FROM manifests WHERE repo = ? AND digest = ?",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(stored).transpose()
}

pub(super) async fn by_tag(
    pool: &SqlitePool,
    repo: &RepoName,
    tag: &Tag,
) -> Result<Option<StoredManifest>> {
    let row = sqlx::query(
        "SELECT m.digest, m.media_type, m.body, t.updated_at FROM tags t
         JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
         WHERE t.repo = ? AND t.name = ?",
    )
    .bind(repo.as_str())
    .bind(tag.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(stored).transpose()
}

/// The columns every referrers query selects, in the order `referrer` reads them.
pub(super) const REFERRER_COLUMNS: &str =
    "referrer, media_type, size, artifact_type, annotations, created_at";

/// The filter every referrers query applies: `?3` is a JSON array of artifact types, `[]` for
/// no filter.
const TYPE_FILTER: &str = "(?3 = '[]' OR artifact_type IN (SELECT value FROM json_each(?3)))";

pub(super) fn referrer(row: &SqliteRow) -> Result<Referrer> {
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
    fn types(&self) -> String {
        serde_json::to_string(self.artifact_types).expect("strings serialise")
    }

    /// By digest, one range read of the primary key.
    pub async fn by_digest(&self, pool: &SqlitePool) -> Result<Vec<Referrer>> {
        let sql = format!(
            "SELECT {REFERRER_COLUMNS} FROM referrers
             WHERE repo = ?1 AND subject = ?2 AND referrer > ?4 AND {TYPE_FILTER}
             ORDER BY referrer LIMIT ?5"
        );
        let rows = sqlx::query(&sql)
            .bind(self.repo.as_str())
            .bind(self.subject.as_str())
            .bind(self.types())
            .bind(self.after.map_or("", |c| c.digest.as_str()))
            .bind(self.limit)
            .fetch_all(pool)
            .await?;
        rows.iter().map(referrer).collect()
    }

    /// Newest `created_at` first, ties by digest, undated referrers last by digest. The rest
    /// of the list after a cursor is three ranges of `referrers_by_created` (the cursor's own
    /// time after its digest, older times, undated), each read at most `limit` rows deep.
    pub async fn newest_first(&self, pool: &SqlitePool) -> Result<Vec<Referrer>> {
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
               SELECT * FROM (SELECT 0 AS part, * FROM referrers
                 WHERE repo = ?1 AND subject = ?2 AND created_at = ?4 AND referrer > ?5
                   AND {TYPE_FILTER} ORDER BY referrer LIMIT ?7)
               UNION ALL
               SELECT * FROM (SELECT 1 AS part, * FROM referrers
                 WHERE repo = ?1 AND subject = ?2 AND created_at < ?4 AND {TYPE_FILTER}
                 ORDER BY created_at DESC, referrer LIMIT ?7)
               UNION ALL
               SELECT * FROM (SELECT 2 AS part, * FROM referrers
                 WHERE repo = ?1 AND subject = ?2 AND created_at IS NULL AND referrer > ?6
                   AND {TYPE_FILTER} ORDER BY referrer LIMIT ?7))
             ORDER BY part, created_at DESC, referrer LIMIT ?7"
        );
        let rows = sqlx::query(&sql)
            .bind(self.repo.as_str())
            .bind(self.subject.as_str())
            .bind(self.types())
            .bind(time)
            .bind(dated_after)
            .bind(undated_after)
            .bind(self.limit)
            .fetch_all(pool)
            .await?;
        rows.iter().map(referrer).collect()
    }
}
