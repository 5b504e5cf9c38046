//! Every write of the PostgreSQL backend, each run inside a SERIALIZABLE transaction (see
//! `transaction`): the checks a write makes before writing (preconditions, missing references,
//! reachability) are reads of that transaction, so they still hold when it commits, or the
//! transaction fails to serialize and runs again from the start.

use berth_oci::{Digest, Reference, RepoName, Tag, UploadId};
use sqlx::PgConnection;

use super::events::insert_all;
use super::{db_now, parse_column};
use crate::error::{MetadataError, Result};
use crate::events::{push_events, sorted_tags, DeletedManifest, DeletionReason, NewEvent};
use crate::model::{CurrentState, NewManifest, Precondition, UploadRecord};

/// Whether `sql` (a `SELECT 1` on `$1`, and `$2` when given) finds a row.
async fn exists(
    conn: &mut PgConnection,
    sql: &'static str,
    first: &str,
    second: Option<&str>,
) -> Result<bool> {
    let mut query = sqlx::query(sql).bind(first);
    if let Some(second) = second {
        query = query.bind(second);
    }
    Ok(query.fetch_optional(conn).await?.is_some())
}

/// Records a repository the first time it receives content.
async fn ensure_repository(conn: &mut PgConnection, repo: &RepoName, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(repo.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn link_blob(
    conn: &mut PgConnection,
    repo: &RepoName,
    digest: &Digest,
    size: u64,
) -> Result<()> {
    let now = db_now(&mut *conn).await?;
    ensure_repository(conn, repo, now).await?;
    // Read the blob's row before relying on it: `ON CONFLICT DO NOTHING` alone would not
    // record the read, and a concurrent `forget_unlinked_blob` could then commit too.
    if !exists(
        conn,
        "SELECT 1 FROM blobs WHERE digest = $1",
        digest.as_str(),
        None,
    )
    .await?
    {
        sqlx::query(
            "INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    // A new upload or mount of a linked blob restarts its grace period.
    sqlx::query(
        "INSERT INTO repository_blobs (repo, digest, linked_at) VALUES ($1, $2, $3)
         ON CONFLICT (repo, digest) DO UPDATE SET linked_at = excluded.linked_at",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn unlink_blob(
    conn: &mut PgConnection,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool> {
    let deleted = sqlx::query("DELETE FROM repository_blobs WHERE repo = $1 AND digest = $2")
        .bind(repo.as_str())
        .bind(digest.as_str())
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Refuses with `PreconditionFailed` unless `precondition` holds for its target as this
/// transaction sees it. The read (of a row, or of its absence) is part of the serializable
/// transaction: a concurrent write to the target makes one of the two fail and run again.
async fn check_precondition(
    conn: &mut PgConnection,
    repo: &RepoName,
    precondition: Option<&Precondition>,
) -> Result<()> {
    let Some(precondition) = precondition else {
        return Ok(());
    };
    let current: Option<(String, i64)> = match &precondition.target {
        Reference::Tag(tag) => {
            sqlx::query_as("SELECT digest, updated_at FROM tags WHERE repo = $1 AND name = $2")
                .bind(repo.as_str())
                .bind(tag.as_str())
                .fetch_optional(conn)
                .await?
        }
        Reference::Digest(digest) => {
            sqlx::query_as(
                "SELECT digest, pushed_at FROM manifests WHERE repo = $1 AND digest = $2",
            )
            .bind(repo.as_str())
            .bind(digest.as_str())
            .fetch_optional(conn)
            .await?
        }
    };
    let current = current
        .map(|(digest, at)| Ok::<_, MetadataError>((parse_column::<Digest>(&digest)?, at)))
        .transpose()?;
    let state = current.as_ref().map(|(digest, modified_at)| CurrentState {
        digest,
        modified_at: *modified_at,
    });
    if precondition.holds_for(state) {
        Ok(())
    } else {
        Err(MetadataError::PreconditionFailed(
            precondition.target.to_string(),
        ))
    }
}

fn texts<'a>(items: impl IntoIterator<Item = &'a Digest>) -> Vec<&'a str> {
    items.into_iter().map(Digest::as_str).collect()
}

/// Stores a manifest with its edges and tags, and the events of the push; validation runs
/// before any write.
pub(super) async fn put_manifest(
    conn: &mut PgConnection,
    repo: &RepoName,
    manifest: &NewManifest,
    tags: &[Tag],
    precondition: Option<&Precondition>,
) -> Result<()> {
    check_precondition(conn, repo, precondition).await?;
    let blobs = texts(&manifest.blobs);
    let children = texts(&manifest.children);
    let required_subject = manifest
        .subject
        .as_ref()
        .filter(|_| manifest.subject_must_exist)
        .map(Digest::as_str);
    // The first missing reference, in the order the manifest lists them.
    let missing: Option<(String, String)> = sqlx::query_as(
        "SELECT kind, digest FROM (
           SELECT 0 AS part, j.n, 'blob'::text AS kind, j.d AS digest
           FROM unnest($2::text[]) WITH ORDINALITY AS j(d, n) WHERE NOT EXISTS
             (SELECT 1 FROM repository_blobs b WHERE b.repo = $1 AND b.digest = j.d)
             OR EXISTS (SELECT 1 FROM quarantined_blobs q WHERE q.digest = j.d)
           UNION ALL
           SELECT 1, j.n, 'child', j.d FROM unnest($3::text[]) WITH ORDINALITY AS j(d, n)
           WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repo = $1 AND m.digest = j.d)
           UNION ALL
           SELECT 2, 0, 'subject', $4::text WHERE $4::text IS NOT NULL AND NOT EXISTS
             (SELECT 1 FROM manifests m WHERE m.repo = $1 AND m.digest = $4::text)
         ) missing ORDER BY part, n LIMIT 1",
    )
    .bind(repo.as_str())
    .bind(&blobs)
    .bind(&children)
    .bind(required_subject)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((kind, digest)) = missing {
        let digest = parse_column(&digest)?;
        return Err(match kind.as_str() {
            "blob" => MetadataError::MissingBlob(digest),
            "subject" => MetadataError::MissingSubject(digest),
            _ => MetadataError::MissingChild(digest),
        });
    }
    let now = db_now(&mut *conn).await?;
    ensure_repository(conn, repo, now).await?;
    let digest = manifest.digest.as_str();
    // Read the manifest's row rather than let `ON CONFLICT DO NOTHING` find it: the read is
    // what makes a concurrent `delete_unreachable_manifest` (which reads the tags this writes)
    // and this push fail to serialize, instead of leaving a tag on a deleted manifest.
    let present = exists(
        conn,
        "SELECT 1 FROM manifests WHERE repo = $2 AND digest = $1",
        digest,
        Some(repo.as_str()),
    )
    .await?;
    let inserted = !present
        && sqlx::query(
            "INSERT INTO manifests
           (repo, digest, media_type, size, body, artifact_type, subject, annotations, pushed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(repo.as_str())
        .bind(digest)
        .bind(&manifest.media_type)
        .bind(manifest.body.len() as i64)
        .bind(&manifest.body[..])
        .bind(&manifest.artifact_type)
        .bind(manifest.subject.as_ref().map(Digest::as_str))
        .bind(&manifest.annotations_json)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            > 0;
    if inserted && !blobs.is_empty() {
        sqlx::query(
            "INSERT INTO manifest_blobs (repo, manifest, blob)
             SELECT DISTINCT $1, $2, d FROM unnest($3::text[]) AS j(d) ON CONFLICT DO NOTHING",
        )
        .bind(repo.as_str())
        .bind(digest)
        .bind(&blobs)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO blob_references (repo, blob, manifests)
             SELECT $1, blob, 1 FROM manifest_blobs WHERE repo = $1 AND manifest = $2
             ON CONFLICT (repo, blob) DO UPDATE SET manifests = blob_references.manifests + 1",
        )
        .bind(repo.as_str())
        .bind(digest)
        .execute(&mut *conn)
        .await?;
    }
    if inserted && !children.is_empty() {
        sqlx::query(
            "INSERT INTO manifest_children (repo, parent, child)
             SELECT DISTINCT $1, $2, d FROM unnest($3::text[]) AS j(d) ON CONFLICT DO NOTHING",
        )
        .bind(repo.as_str())
        .bind(digest)
        .bind(&children)
        .execute(&mut *conn)
        .await?;
    }
    if let (true, Some(subject)) = (inserted, &manifest.subject) {
        sqlx::query(
            "INSERT INTO referrers
               (repo, subject, referrer, media_type, size, artifact_type, annotations, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(repo.as_str())
        .bind(subject.as_str())
        .bind(digest)
        .bind(&manifest.media_type)
        .bind(manifest.body.len() as i64)
        .bind(&manifest.artifact_type)
        .bind(&manifest.annotations_json)
        .bind(manifest.created_at)
        .execute(&mut *conn)
        .await?;
    }
    let tag_names = sorted_tags(tags);
    let previous: Vec<(String, String)> = if tag_names.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as("SELECT name, digest FROM tags WHERE repo = $1 AND name = ANY($2)")
            .bind(repo.as_str())
            .bind(&tag_names)
            .fetch_all(&mut *conn)
            .await?
    };
    if !tags.is_empty() {
        let tags: Vec<&str> = tags.iter().map(Tag::as_str).collect();
        sqlx::query(
            "INSERT INTO tags (repo, name, digest, updated_at)
             SELECT DISTINCT $1, t, $2, $3::bigint FROM unnest($4::text[]) AS j(t)
             ON CONFLICT (repo, name) DO UPDATE
               SET digest = excluded.digest, updated_at = excluded.updated_at",
        )
        .bind(repo.as_str())
        .bind(digest)
        .bind(now)
        .bind(&tags)
        .execute(&mut *conn)
        .await?;
    }
    let events = push_events(repo, manifest, inserted, &tag_names, &previous);
    insert_all(conn, &events, now).await
}

/// Removes a manifest with its tags and the edges it owns, and marks its referrers orphaned,
/// when `precondition` holds.
pub(super) async fn delete_manifest_if(
    conn: &mut PgConnection,
    repo: &RepoName,
    digest: &Digest,
    precondition: Option<&Precondition>,
) -> Result<bool> {
    check_precondition(conn, repo, precondition).await?;
    delete_manifest(conn, repo, digest, DeletionReason::Client).await
}

/// Removes a manifest with its tags and the edges it owns, marks its referrers orphaned, and
/// records the deletion's events.
async fn delete_manifest(
    conn: &mut PgConnection,
    repo: &RepoName,
    digest: &Digest,
    reason: DeletionReason,
) -> Result<bool> {
    let deleted: Option<(String, i64, Option<String>, Option<String>)> = sqlx::query_as(
        "DELETE FROM manifests WHERE repo = $1 AND digest = $2
         RETURNING media_type, size, artifact_type, subject",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((media_type, size, artifact_type, subject)) = deleted else {
        return Ok(false);
    };
    let mut tags: Vec<String> =
        sqlx::query_scalar("DELETE FROM tags WHERE repo = $1 AND digest = $2 RETURNING name")
            .bind(repo.as_str())
            .bind(digest.as_str())
            .fetch_all(&mut *conn)
            .await?;
    tags.sort_unstable();
    let deleted = DeletedManifest {
        digest: digest.clone(),
        media_type,
        size,
        artifact_type,
        subject,
        tags,
    };
    let now = db_now(&mut *conn).await?;
    sqlx::query("UPDATE referrers SET orphaned_at = $3 WHERE repo = $1 AND subject = $2")
        .bind(repo.as_str())
        .bind(digest.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    for statement in [
        "UPDATE blob_references SET manifests = manifests - 1 WHERE repo = $1
           AND blob IN (SELECT blob FROM manifest_blobs WHERE repo = $1 AND manifest = $2)",
        "DELETE FROM blob_references WHERE repo = $1 AND manifests = 0
           AND blob IN (SELECT blob FROM manifest_blobs WHERE repo = $1 AND manifest = $2)",
        "DELETE FROM manifest_blobs WHERE repo = $1 AND manifest = $2",
        "DELETE FROM manifest_children WHERE repo = $1 AND parent = $2",
        "DELETE FROM referrers WHERE repo = $1 AND referrer = $2",
    ] {
        sqlx::query(statement)
            .bind(repo.as_str())
            .bind(digest.as_str())
            .execute(&mut *conn)
            .await?;
    }
    insert_all(conn, &deleted.events(repo, reason), now).await?;
    Ok(true)
}

pub(super) async fn delete_tag(
    conn: &mut PgConnection,
    repo: &RepoName,
    tag: &Tag,
    precondition: Option<&Precondition>,
) -> Result<bool> {
    check_precondition(conn, repo, precondition).await?;
    let deleted: Option<String> =
        sqlx::query_scalar("DELETE FROM tags WHERE repo = $1 AND name = $2 RETURNING digest")
            .bind(repo.as_str())
            .bind(tag.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(digest) = deleted else {
        return Ok(false);
    };
    let now = db_now(&mut *conn).await?;
    let event = NewEvent::tag_deleted(repo, tag.as_str(), &digest, DeletionReason::Client);
    insert_all(conn, &[event], now).await?;
    Ok(true)
}

pub(super) async fn create_upload(conn: &mut PgConnection, upload: &UploadRecord) -> Result<()> {
    let now = db_now(&mut *conn).await?;
    ensure_repository(conn, &upload.repo, now).await?;
    sqlx::query("INSERT INTO uploads (id, repo, created_at) VALUES ($1, $2, $3)")
        .bind(upload.id.as_str())
        .bind(upload.repo.as_str())
        .bind(upload.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn delete_upload(conn: &mut PgConnection, id: &UploadId) -> Result<bool> {
    let deleted = sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Ends a session and links its blob into the session's repository.
pub(super) async fn complete_upload(
    conn: &mut PgConnection,
    id: &UploadId,
    digest: &Digest,
    size: u64,
) -> Result<bool> {
    let repo: Option<String> =
        sqlx::query_scalar("DELETE FROM uploads WHERE id = $1 RETURNING repo")
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(repo) = repo else {
        return Ok(false);
    };
    link_blob(conn, &parse_column(&repo)?, digest, size).await?;
    // The bytes were verified against the digest: a quarantined blob is whole again.
    super::operations::lift_quarantine(conn, digest).await?;
    Ok(true)
}

/// Deletes a manifest found unreachable, re-checking reachability in this transaction: a push
/// that tags it or an index that lists it, committed or concurrent, makes this one see it or
/// fail to serialize and run again (then seeing it).
pub(super) async fn delete_unreachable_manifest(
    conn: &mut PgConnection,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool> {
    let still_unreachable = sqlx::query(
        "SELECT 1 FROM manifests m WHERE m.repo = $1 AND m.digest = $2
           AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = $1 AND t.digest = $2)
           AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo = $1 AND c.child = $2)
           AND (m.subject IS NULL OR NOT EXISTS
                 (SELECT 1 FROM manifests s WHERE s.repo = $1 AND s.digest = m.subject))",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    if !still_unreachable {
        return Ok(false);
    }
    delete_manifest(conn, repo, digest, DeletionReason::Collection).await
}

/// Removes a blob's link from a repository none of whose manifests references the blob.
pub(super) async fn unlink_unreferenced(
    conn: &mut PgConnection,
    repo: &RepoName,
    digest: &Digest,
    before: i64,
) -> Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM repository_blobs WHERE repo = $1 AND digest = $2 AND linked_at < $3
           AND NOT EXISTS (SELECT 1 FROM blob_references r WHERE r.repo = $1 AND r.blob = $2)",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .bind(before)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() > 0)
}

pub(super) async fn forget_unlinked_blob(conn: &mut PgConnection, digest: &Digest) -> Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM blobs WHERE digest = $1
           AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = $1)",
    )
    .bind(digest.as_str())
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Deletes a tag only if it still points where it did when `updated_at` was read.
pub(super) async fn delete_tag_if_unchanged(
    conn: &mut PgConnection,
    repo: &RepoName,
    tag: &str,
    digest: &Digest,
    updated_at: i64,
) -> Result<bool> {
    let deleted = sqlx::query(
        "DELETE FROM tags WHERE repo = $1 AND name = $2 AND digest = $3 AND updated_at = $4",
    )
    .bind(repo.as_str())
    .bind(tag)
    .bind(digest.as_str())
    .bind(updated_at)
    .execute(&mut *conn)
    .await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    let now = db_now(&mut *conn).await?;
    let event = NewEvent::tag_deleted(repo, tag, digest.as_str(), DeletionReason::Retention);
    insert_all(conn, &[event], now).await?;
    Ok(true)
}

/// Deletes a referrer a newer one of its kind superseded, only if no tag or index holds it.
pub(super) async fn delete_superseded_referrer(
    conn: &mut PgConnection,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool> {
    let deletable = sqlx::query(
        "SELECT 1 FROM manifests m WHERE m.repo = $1 AND m.digest = $2 AND m.subject IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = $1 AND t.digest = $2)
           AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo = $1 AND c.child = $2)",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    if !deletable {
        return Ok(false);
    }
    delete_manifest(conn, repo, digest, DeletionReason::Retention).await
}
