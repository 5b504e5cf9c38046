//! Every write of the SQLite backend, run by the writer thread inside a batch transaction.
//!
//! A function may refuse (`MissingBlob`, `MissingChild`, `MissingSubject`,
//! `PreconditionFailed`) only before it writes anything; see `writer` for why.

use berth_oci::{Digest, Reference, RepoName, Tag, UploadId};
use rusqlite::{params, Connection, OptionalExtension};

use super::events::insert_all;
use super::{now_millis, parse_column};
use crate::error::{MetadataError, Result};
use crate::events::{push_events, sorted_tags, DeletedManifest, DeletionReason, NewEvent};
use crate::model::{CurrentState, NewManifest, Precondition, UploadRecord};

/// JSON array of digests or tags, so that one statement handles a whole list (`json_each`).
fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.into_iter().collect::<Vec<_>>()).expect("strings serialise")
}

/// Records a repository the first time it receives content.
fn ensure_repository(conn: &Connection, repo: &RepoName, now: i64) -> Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO repositories (name, created_at) VALUES (?1, ?2)")?
        .execute(params![repo.as_str(), now])?;
    Ok(())
}

pub fn link_blob(conn: &Connection, repo: &RepoName, digest: &Digest, size: u64) -> Result<()> {
    let now = now_millis();
    ensure_repository(conn, repo, now)?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![digest.as_str(), size as i64, now])?;
    // A new upload or mount of a linked blob restarts its grace period.
    conn.prepare_cached(
        "INSERT INTO repository_blobs (repo, digest, linked_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (repo, digest) DO UPDATE SET linked_at = excluded.linked_at",
    )?
    .execute(params![repo.as_str(), digest.as_str(), now])?;
    Ok(())
}

pub fn unlink_blob(conn: &Connection, repo: &RepoName, digest: &Digest) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM repository_blobs WHERE repo = ?1 AND digest = ?2")?
        .execute(params![repo.as_str(), digest.as_str()])?;
    Ok(deleted > 0)
}

/// Refuses with `PreconditionFailed` unless `precondition` holds for its target as this
/// transaction sees it.
fn check_precondition(
    conn: &Connection,
    repo: &RepoName,
    precondition: Option<&Precondition>,
) -> Result<()> {
    let Some(precondition) = precondition else {
        return Ok(());
    };
    let current: Option<(String, i64)> = match &precondition.target {
        Reference::Tag(tag) => conn
            .prepare_cached("SELECT digest, updated_at FROM tags WHERE repo = ?1 AND name = ?2")?
            .query_row(params![repo.as_str(), tag.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?,
        Reference::Digest(digest) => conn
            .prepare_cached(
                "SELECT digest, pushed_at FROM manifests WHERE repo = ?1 AND digest = ?2",
            )?
            .query_row(params![repo.as_str(), digest.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?,
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

/// Stores a manifest with its edges and tags, and the events of the push; validation runs
/// before any write.
pub fn put_manifest(
    conn: &Connection,
    repo: &RepoName,
    manifest: &NewManifest,
    tags: &[Tag],
    precondition: Option<&Precondition>,
) -> Result<()> {
    check_precondition(conn, repo, precondition)?;
    let blobs = json_list(manifest.blobs.iter().map(Digest::as_str));
    let children = json_list(manifest.children.iter().map(Digest::as_str));
    let required_subject = manifest
        .subject
        .as_ref()
        .filter(|_| manifest.subject_must_exist)
        .map(Digest::as_str);
    let missing: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT 'blob', j.value FROM json_each(?2) j WHERE NOT EXISTS
               (SELECT 1 FROM repository_blobs b WHERE b.repo = ?1 AND b.digest = j.value)
               OR EXISTS (SELECT 1 FROM quarantined_blobs q WHERE q.digest = j.value)
             UNION ALL
             SELECT 'child', j.value FROM json_each(?3) j WHERE NOT EXISTS
               (SELECT 1 FROM manifests m WHERE m.repo = ?1 AND m.digest = j.value)
             UNION ALL
             SELECT 'subject', ?4 WHERE ?4 IS NOT NULL AND NOT EXISTS
               (SELECT 1 FROM manifests m WHERE m.repo = ?1 AND m.digest = ?4)
             LIMIT 1",
        )?
        .query_row(
            params![repo.as_str(), blobs, children, required_subject],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((kind, digest)) = missing {
        let digest = parse_column(&digest)?;
        return Err(match kind.as_str() {
            "blob" => MetadataError::MissingBlob(digest),
            "subject" => MetadataError::MissingSubject(digest),
            _ => MetadataError::MissingChild(digest),
        });
    }
    let now = now_millis();
    ensure_repository(conn, repo, now)?;
    let digest = manifest.digest.as_str();
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO manifests
               (repo, digest, media_type, size, body, artifact_type, subject, annotations, pushed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            repo.as_str(),
            digest,
            manifest.media_type,
            manifest.body.len() as i64,
            &manifest.body[..],
            manifest.artifact_type,
            manifest.subject.as_ref().map(Digest::as_str),
            manifest.annotations_json,
            now,
        ])?
        > 0;
    if inserted && !manifest.blobs.is_empty() {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO manifest_blobs (repo, manifest, blob) SELECT ?1, ?2, value FROM json_each(?3)",
        )?
        .execute(params![repo.as_str(), digest, blobs])?;
        conn.prepare_cached(
            "INSERT INTO blob_references (repo, blob, manifests)
             SELECT ?1, blob, 1 FROM manifest_blobs WHERE repo = ?1 AND manifest = ?2
             ON CONFLICT (repo, blob) DO UPDATE SET manifests = manifests + 1",
        )?
        .execute(params![repo.as_str(), digest])?;
    }
    if inserted && !manifest.children.is_empty() {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO manifest_children (repo, parent, child) SELECT ?1, ?2, value FROM json_each(?3)",
        )?
        .execute(params![repo.as_str(), digest, children])?;
    }
    if let (true, Some(subject)) = (inserted, &manifest.subject) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO referrers
               (repo, subject, referrer, media_type, size, artifact_type, annotations, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            repo.as_str(),
            subject.as_str(),
            digest,
            manifest.media_type,
            manifest.body.len() as i64,
            manifest.artifact_type,
            manifest.annotations_json,
            manifest.created_at,
        ])?;
    }
    let tag_names = sorted_tags(tags);
    let previous: Vec<(String, String)> = if tag_names.is_empty() {
        Vec::new()
    } else {
        conn.prepare_cached(
            "SELECT name, digest FROM tags
             WHERE repo = ?1 AND name IN (SELECT value FROM json_each(?2))",
        )?
        .query_map(
            params![repo.as_str(), json_list(tag_names.iter().copied())],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<Result<_, _>>()?
    };
    if !tags.is_empty() {
        conn.prepare_cached(
            "INSERT INTO tags (repo, name, digest, updated_at)
             SELECT ?1, value, ?2, ?3 FROM json_each(?4) WHERE true
             ON CONFLICT (repo, name) DO UPDATE
               SET digest = excluded.digest, updated_at = excluded.updated_at",
        )?
        .execute(params![
            repo.as_str(),
            digest,
            now,
            json_list(tags.iter().map(Tag::as_str))
        ])?;
    }
    let events = push_events(repo, manifest, inserted, &tag_names, &previous);
    insert_all(conn, &events, now)?;
    Ok(())
}

/// Removes a manifest with its tags and the edges it owns, and marks its referrers orphaned,
/// when `precondition` holds.
pub fn delete_manifest_if(
    conn: &Connection,
    repo: &RepoName,
    digest: &Digest,
    precondition: Option<&Precondition>,
) -> Result<bool> {
    check_precondition(conn, repo, precondition)?;
    delete_manifest(conn, repo, digest, DeletionReason::Client)
}

/// Removes a manifest with its tags and the edges it owns, marks its referrers orphaned, and
/// records the deletion's events.
pub fn delete_manifest(
    conn: &Connection,
    repo: &RepoName,
    digest: &Digest,
    reason: DeletionReason,
) -> Result<bool> {
    let args = params![repo.as_str(), digest.as_str()];
    let deleted = conn
        .prepare_cached(
            "DELETE FROM manifests WHERE repo = ?1 AND digest = ?2
             RETURNING media_type, size, artifact_type, subject",
        )?
        .query_row(args, |row| {
            Ok(DeletedManifest {
                digest: digest.clone(),
                media_type: row.get(0)?,
                size: row.get(1)?,
                artifact_type: row.get(2)?,
                subject: row.get(3)?,
                tags: Vec::new(),
            })
        })
        .optional()?;
    if let Some(mut deleted) = deleted {
        let now = now_millis();
        conn.prepare_cached(
            "UPDATE referrers SET orphaned_at = ?3 WHERE repo = ?1 AND subject = ?2",
        )?
        .execute(params![repo.as_str(), digest.as_str(), now])?;
        deleted.tags = conn
            .prepare_cached("DELETE FROM tags WHERE repo = ?1 AND digest = ?2 RETURNING name")?
            .query_map(args, |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        deleted.tags.sort_unstable();
        for statement in [
            "UPDATE blob_references SET manifests = manifests - 1 WHERE repo = ?1
               AND blob IN (SELECT blob FROM manifest_blobs WHERE repo = ?1 AND manifest = ?2)",
            "DELETE FROM blob_references WHERE repo = ?1 AND manifests = 0
               AND blob IN (SELECT blob FROM manifest_blobs WHERE repo = ?1 AND manifest = ?2)",
            "DELETE FROM manifest_blobs WHERE repo = ?1 AND manifest = ?2",
            "DELETE FROM manifest_children WHERE repo = ?1 AND parent = ?2",
            "DELETE FROM referrers WHERE repo = ?1 AND referrer = ?2",
        ] {
            conn.prepare_cached(statement)?.execute(args)?;
        }
        insert_all(conn, &deleted.events(repo, reason), now)?;
        return Ok(true);
    }
    Ok(false)
}

pub fn delete_tag(
    conn: &Connection,
    repo: &RepoName,
    tag: &Tag,
    precondition: Option<&Precondition>,
) -> Result<bool> {
    check_precondition(conn, repo, precondition)?;
    let deleted: Option<String> = conn
        .prepare_cached("DELETE FROM tags WHERE repo = ?1 AND name = ?2 RETURNING digest")?
        .query_row(params![repo.as_str(), tag.as_str()], |row| row.get(0))
        .optional()?;
    let Some(digest) = deleted else {
        return Ok(false);
    };
    let event = NewEvent::tag_deleted(repo, tag.as_str(), &digest, DeletionReason::Client);
    insert_all(conn, &[event], now_millis())?;
    Ok(true)
}

pub fn create_upload(conn: &Connection, upload: &UploadRecord) -> Result<()> {
    ensure_repository(conn, &upload.repo, now_millis())?;
    conn.prepare_cached("INSERT INTO uploads (id, repo, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![
            upload.id.as_str(),
            upload.repo.as_str(),
            upload.created_at
        ])?;
    Ok(())
}

pub fn delete_upload(conn: &Connection, id: &UploadId) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM uploads WHERE id = ?1")?
        .execute(params![id.as_str()])?;
    Ok(deleted > 0)
}

/// Ends a session and links its blob into the session's repository.
pub fn complete_upload(
    conn: &Connection,
    id: &UploadId,
    digest: &Digest,
    size: u64,
) -> Result<bool> {
    let repo: Option<String> = conn
        .prepare_cached("DELETE FROM uploads WHERE id = ?1 RETURNING repo")?
        .query_row(params![id.as_str()], |row| row.get(0))
        .optional()?;
    let Some(repo) = repo else {
        return Ok(false);
    };
    link_blob(conn, &parse_column(&repo)?, digest, size)?;
    // The bytes were verified against the digest: a quarantined blob is whole again.
    super::operations::lift_quarantine(conn, digest)?;
    Ok(true)
}

/// Deletes a manifest found unreachable, re-checking reachability in this transaction.
pub fn delete_unreachable_manifest(
    conn: &Connection,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool> {
    let still_unreachable = conn
        .prepare_cached(
            "SELECT 1 FROM manifests m WHERE m.repo = ?1 AND m.digest = ?2
               AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = ?1 AND t.digest = ?2)
               AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo = ?1 AND c.child = ?2)
               AND (m.subject IS NULL OR NOT EXISTS
                     (SELECT 1 FROM manifests s WHERE s.repo = ?1 AND s.digest = m.subject))",
        )?
        .exists(params![repo.as_str(), digest.as_str()])?;
    if !still_unreachable {
        return Ok(false);
    }
    delete_manifest(conn, repo, digest, DeletionReason::Collection)
}

/// Removes a blob's link from a repository none of whose manifests references the blob.
pub fn unlink_unreferenced(
    conn: &Connection,
    repo: &RepoName,
    digest: &Digest,
    before: i64,
) -> Result<bool> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM repository_blobs WHERE repo = ?1 AND digest = ?2 AND linked_at < ?3
               AND NOT EXISTS (SELECT 1 FROM blob_references r WHERE r.repo = ?1 AND r.blob = ?2)",
        )?
        .execute(params![repo.as_str(), digest.as_str(), before])?;
    Ok(deleted > 0)
}

pub fn forget_unlinked_blob(conn: &Connection, digest: &Digest) -> Result<bool> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM blobs WHERE digest = ?1
               AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = ?1)",
        )?
        .execute(params![digest.as_str()])?;
    Ok(deleted > 0)
}

/// Deletes a tag only if it still points where it did when `updated_at` was read.
pub fn delete_tag_if_unchanged(
    conn: &Connection,
    repo: &RepoName,
    tag: &str,
    digest: &Digest,
    updated_at: i64,
) -> Result<bool> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM tags WHERE repo = ?1 AND name = ?2 AND digest = ?3 AND updated_at = ?4",
        )?
        .execute(params![repo.as_str(), tag, digest.as_str(), updated_at])?;
    if deleted == 0 {
        return Ok(false);
    }
    let event = NewEvent::tag_deleted(repo, tag, digest.as_str(), DeletionReason::Retention);
    insert_all(conn, &[event], now_millis())?;
    Ok(true)
}

/// Deletes a referrer a newer one of its kind superseded, only if no tag or index holds it.
pub fn delete_superseded_referrer(
    conn: &Connection,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool> {
    let deletable = conn
        .prepare_cached(
            "SELECT 1 FROM manifests m WHERE m.repo = ?1 AND m.digest = ?2 AND m.subject IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = ?1 AND t.digest = ?2)
               AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo = ?1 AND c.child = ?2)",
        )?
        .exists(params![repo.as_str(), digest.as_str()])?;
    if !deletable {
        return Ok(false);
    }
    delete_manifest(conn, repo, digest, DeletionReason::Retention)
}
