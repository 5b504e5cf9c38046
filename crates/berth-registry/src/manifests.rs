//! Manifest push, pull and delete.

use std::sync::Arc;

use berth_metadata::{NewManifest, Precondition, StoredManifest};
use berth_oci::{Digest, ParsedManifest, Reference, RepoName, Tag};
use bytes::Bytes;
use tracing::debug;

use crate::error::{RegistryError, Result};
use crate::Registry;

/// Where a manifest push was addressed: `PUT /manifests/<reference>` plus `?tag=` values.
#[derive(Debug, Clone)]
pub struct ManifestTarget {
    pub reference: Reference,
    /// Extra tags to point at the manifest in the same transaction.
    pub extra_tags: Vec<Tag>,
    /// A condition on what `reference` names now, tested in the push's transaction.
    pub precondition: Option<Precondition>,
}

impl ManifestTarget {
    /// A push to `reference` alone, unconditionally.
    pub fn new(reference: Reference) -> ManifestTarget {
        ManifestTarget {
            reference,
            extra_tags: Vec::new(),
            precondition: None,
        }
    }
}

/// The outcome of a manifest push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPushed {
    pub digest: Digest,
    /// The `subject` the manifest refers to, when it has one.
    pub subject: Option<Digest>,
    /// Every tag now pointing at the manifest through this push.
    pub tags: Vec<Tag>,
}

impl Registry {
    /// Validates and stores a manifest byte-exact, with its edges and tags, in one transaction.
    ///
    /// Fails with `ManifestBlobUnknown` when a blob or child is not in the repository,
    /// `SubjectUnknown` when an ORAS artifact manifest's subject is not a manifest of the
    /// repository, and `PreconditionFailed` when the target's precondition does not hold.
    pub async fn put_manifest(
        &self,
        repo: &RepoName,
        target: ManifestTarget,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<ManifestPushed> {
        let limit = self.config.max_manifest_bytes;
        if body.len() > limit {
            return Err(RegistryError::ManifestTooLarge { limit });
        }
        let parsed = ParsedManifest::parse(&body, content_type)?;
        let (digest, mut tags) = match target.reference {
            Reference::Digest(expected) => {
                let actual = Digest::of(expected.algorithm(), &body);
                if actual != expected {
                    return Err(RegistryError::DigestMismatch { expected, actual });
                }
                (expected, Vec::new())
            }
            Reference::Tag(tag) => (Digest::sha256_of(&body), vec![tag]),
        };
        for tag in target.extra_tags {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let subject = parsed.subject.as_ref().map(|s| s.digest.clone());
        let manifest = NewManifest {
            digest: digest.clone(),
            media_type: parsed.media_type().to_owned(),
            artifact_type: parsed.referrer_artifact_type().map(str::to_owned),
            subject: subject.clone(),
            annotations_json: (!parsed.annotations.is_empty()).then(|| {
                serde_json::to_string(&parsed.annotations).expect("string map serialises")
            }),
            blobs: parsed.required_blobs().map(|d| d.digest.clone()).collect(),
            children: parsed.manifests.iter().map(|d| d.digest.clone()).collect(),
            subject_must_exist: parsed.requires_present_subject(),
            created_at: parsed.oras_created_millis(),
            body,
        };
        let (meta, stored_tags) = (self.meta.clone(), tags.clone());
        let precondition = target.precondition;
        let to = repo.clone();
        self.write_then_invalidate(repo, async move {
            meta.put_manifest(&to, &manifest, &stored_tags, precondition.as_ref())
                .await
        })
        .await?;
        // At debug: every write already has its access line and its event; at info a busy
        // registry would log each push twice.
        debug!(repo = %repo, digest = %digest, tags = tags.len(), "manifest stored");
        Ok(ManifestPushed {
            digest,
            subject,
            tags,
        })
    }

    /// The manifest a tag or digest names in `repo`.
    pub async fn get_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<StoredManifest> {
        let found = match reference {
            // Another node may move the tag at any moment: read the shared store each time.
            Reference::Tag(tag) if self.meta.shared() => {
                self.meta.manifest_by_tag(repo, tag).await?
            }
            Reference::Tag(tag) => {
                let generation = self.generations.get(repo);
                if let Some(cached) = self.manifests_by_tag.get(repo, tag, generation) {
                    return Ok((*cached).clone());
                }
                let found = self.meta.manifest_by_tag(repo, tag).await?;
                if let Some(manifest) = &found {
                    let value = Arc::new(manifest.clone());
                    self.manifests_by_tag.put(
                        &self.generations,
                        repo,
                        tag.clone(),
                        generation,
                        value,
                    );
                }
                found
            }
            Reference::Digest(digest) => self.meta.manifest_by_digest(repo, digest).await?,
        };
        match found {
            Some(manifest) => Ok(manifest),
            None => Err(self.manifest_not_found(repo, reference).await?),
        }
    }

    /// Deletes a tag (the manifest stays) or a manifest with all its tags, when
    /// `precondition` holds for it (`PreconditionFailed` otherwise, nothing deleted).
    pub async fn delete_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        precondition: Option<&Precondition>,
    ) -> Result<()> {
        let (meta, from, reference_owned) = (self.meta.clone(), repo.clone(), reference.clone());
        let precondition = precondition.cloned();
        let deleted = self
            .write_then_invalidate(repo, async move {
                let precondition = precondition.as_ref();
                match &reference_owned {
                    Reference::Tag(tag) => meta.delete_tag(&from, tag, precondition).await,
                    Reference::Digest(d) => meta.delete_manifest(&from, d, precondition).await,
                }
            })
            .await?;
        if !deleted {
            return Err(self.manifest_not_found(repo, reference).await?);
        }
        debug!(repo = %repo, reference = %reference, "manifest reference deleted");
        Ok(())
    }

    /// Runs a metadata write that can change what the read caches of `repo` hold in a task of
    /// its own, and marks those caches stale once it has finished. The writer commits a queued
    /// write even when the request that queued it is gone (a client disconnect drops the
    /// handler's future), so the invalidation must not depend on that future: otherwise
    /// readers would be served the state from before a committed write.
    async fn write_then_invalidate<T, F>(&self, repo: &RepoName, write: F) -> Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, berth_metadata::MetadataError>> + Send + 'static,
    {
        let (generations, repo) = (self.generations.clone(), repo.clone());
        let task = tokio::spawn(async move {
            let outcome = write.await;
            generations.bump(&repo);
            outcome
        });
        match task.await {
            Ok(outcome) => Ok(outcome?),
            Err(e) => Err(RegistryError::Metadata(
                berth_metadata::MetadataError::CommitFailed(format!("the write task ended: {e}")),
            )),
        }
    }

    /// `NameUnknown` for a repository that does not exist, else `ManifestUnknown`.
    async fn manifest_not_found(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<RegistryError> {
        Ok(if self.meta.repository_exists(repo).await? {
            RegistryError::ManifestUnknown(reference.to_string())
        } else {
            RegistryError::NameUnknown(repo.clone())
        })
    }
}
