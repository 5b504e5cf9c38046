//! The copy itself, one repository after the other: blobs (verified while they stream), then
//! manifests in dependency order through the registry's own push, then tags in the order the
//! source last moved them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context};
use berth_blobstore::{BlobStoreError, ByteStream};
use berth_metadata::{StoredManifest, UploadRecord};
use berth_oci::{Digest, DigestHasher, ParsedManifest, Reference, RepoName, Tag, UploadId};
use berth_registry::{ManifestTarget, Registry, RegistryConfig};
use futures::StreamExt;

use super::order::dependency_order;
use super::Stores;

/// Repositories read from the source's catalog at a time.
const CATALOG_PAGE: u32 = 1000;

/// What a migration did; printed at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Repositories copied (those with manifests, and those with blob links only).
    pub repositories: u64,
    /// Manifests stored in the target (including those a previous run had stored).
    pub manifests: u64,
    /// Tags pointed in the target.
    pub tags: u64,
    /// Blob links made in the target, one per repository a blob is linked into.
    pub blob_links: u64,
    /// Blobs whose bytes this run copied, and how many bytes they hold.
    pub blobs_copied: u64,
    pub bytes_copied: u64,
    /// Blob links whose bytes the target had already (another repository's, or a previous
    /// run's): linked without copying.
    pub blobs_present: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migrated {} repositories: {} manifests, {} tags, {} blob links; copied {} blobs \
             ({} bytes), {} already in the target",
            self.repositories,
            self.manifests,
            self.tags,
            self.blob_links,
            self.blobs_copied,
            self.bytes_copied,
            self.blobs_present
        )
    }
}

/// Copies from one side to the other, counting as it goes.
pub struct Copier {
    source: Stores,
    target: Stores,
    /// The registry over the target's stores: manifests go in through its push, so that their
    /// edges are derived exactly as for a client's push.
    registry: Registry,
    summary: Summary,
}

impl Copier {
    pub fn new(source: Stores, target: Stores) -> Copier {
        // The source accepted its manifests under its own limit; the target must take them all.
        let config = RegistryConfig {
            max_manifest_bytes: usize::MAX,
            ..RegistryConfig::default()
        };
        let registry = Registry::new(target.blobs.clone(), target.meta.clone(), config);
        Copier {
            source,
            target,
            registry,
            summary: Summary::default(),
        }
    }

    /// Copies every repository; the summary of what it did.
    pub async fn run(mut self) -> anyhow::Result<Summary> {
        let mut repositories = self.catalog().await?;
        // Links no manifest uses (blobs pushed for a manifest not pushed yet) are kept too;
        // their repositories may hold no manifest at all.
        let mut strays: BTreeMap<RepoName, BTreeSet<Digest>> = BTreeMap::new();
        for (repo, digest) in self
            .source
            .meta
            .unreferenced_links(i64::MAX)
            .await
            .context("listing the source's blob links")?
        {
            repositories.insert(repo.clone());
            strays.entry(repo).or_default().insert(digest);
        }
        for repo in &repositories {
            let stray = strays.remove(repo).unwrap_or_default();
            self.repository(repo, stray)
                .await
                .with_context(|| format!("migrating repository {repo}"))?;
            self.summary.repositories += 1;
        }
        Ok(self.summary)
    }

    /// Every repository of the source's catalog.
    async fn catalog(&self) -> anyhow::Result<BTreeSet<RepoName>> {
        let mut all = BTreeSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .source
                .meta
                .list_repositories(after.as_deref(), CATALOG_PAGE)
                .await
                .context("listing the source's repositories")?;
            let Some(last) = page.last() else { break };
            after = Some(last.to_string());
            let full = page.len() == CATALOG_PAGE as usize;
            all.extend(page);
            if !full {
                break;
            }
        }
        Ok(all)
    }

    /// One repository: its blobs, manifests and tags.
    async fn repository(&mut self, repo: &RepoName, stray: BTreeSet<Digest>) -> anyhow::Result<()> {
        let graph = self.source.meta.manifest_graph(repo).await?;
        let mut bodies: BTreeMap<Digest, StoredManifest> = BTreeMap::new();
        let mut blobs = stray;
        for manifest in &graph.manifests {
            let stored = self
                .source
                .meta
                .manifest_by_digest(repo, &manifest.digest)
                .await?
                .ok_or_else(|| anyhow!("manifest {} vanished from the source", manifest.digest))?;
            let parsed = ParsedManifest::parse(&stored.body, Some(stored.media_type.as_str()))
                .with_context(|| format!("parsing the source's manifest {}", manifest.digest))?;
            blobs.extend(parsed.required_blobs().map(|d| d.digest.clone()));
            bodies.insert(manifest.digest.clone(), stored);
        }
        for digest in &blobs {
            self.blob(repo, digest).await?;
        }
        for digest in dependency_order(&graph.manifests, &graph.children) {
            let stored = &bodies[&digest];
            self.push(repo, stored, Vec::new()).await?;
            self.summary.manifests += 1;
        }
        let mut tags = graph.tags;
        tags.sort_by(|a, b| (a.updated_at, &a.name).cmp(&(b.updated_at, &b.name)));
        for tag in &tags {
            let stored = bodies
                .get(&tag.digest)
                .ok_or_else(|| anyhow!("tag {} names a manifest not in the source", tag.name))?;
            let name: Tag = tag
                .name
                .parse()
                .map_err(|e| anyhow!("the source's tag {:?}: {e}", tag.name))?;
            self.push(repo, stored, vec![name]).await?;
            self.summary.tags += 1;
        }
        eprintln!(
            "berth migrate: {repo}: {} blobs, {} manifests, {} tags",
            blobs.len(),
            graph.manifests.len(),
            tags.len()
        );
        Ok(())
    }

    /// Stores `stored` byte-exact in the target's `repo` through the registry's push, by
    /// digest, pointing `tags` at it; a manifest already there only has the tags moved.
    async fn push(
        &self,
        repo: &RepoName,
        stored: &StoredManifest,
        tags: Vec<Tag>,
    ) -> anyhow::Result<()> {
        let target = ManifestTarget {
            extra_tags: tags,
            ..ManifestTarget::new(Reference::Digest(stored.digest.clone()))
        };
        self.registry
            .put_manifest(
                repo,
                target,
                Some(stored.media_type.as_str()),
                stored.body.clone(),
            )
            .await
            .with_context(|| format!("storing manifest {} in the target", stored.digest))?;
        Ok(())
    }

    /// Links blob `digest` into the target's `repo`, copying its bytes first unless the
    /// target has them already.
    async fn blob(&mut self, repo: &RepoName, digest: &Digest) -> anyhow::Result<()> {
        let size = self
            .source
            .meta
            .linked_blob_size(repo, digest)
            .await?
            .ok_or_else(|| anyhow!("blob {digest} is used but not linked in the source"))?;
        match self.target.blobs.stat(digest).await {
            Ok(present) if present == size => {
                self.target.meta.link_blob(repo, digest, size).await?;
                self.summary.blobs_present += 1;
            }
            Ok(present) => bail!(
                "the target already holds blob {digest} with {present} bytes, but the source \
                 records {size}"
            ),
            Err(BlobStoreError::BlobNotFound) => {
                self.copy_blob(repo, digest, size).await?;
                self.summary.blobs_copied += 1;
                self.summary.bytes_copied += size;
                eprintln!("berth migrate: {repo}: copied {digest} ({size} bytes)");
            }
            Err(e) => return Err(e).context(format!("looking up blob {digest} in the target")),
        }
        self.summary.blob_links += 1;
        Ok(())
    }

    /// Streams the source's blob into an upload session of the target (a session row, as a
    /// client's upload has, so that an interrupted copy expires like an abandoned upload),
    /// hashing on the way; commits it and links it only when the bytes match `digest` and
    /// `size`. On any failure the session is removed, leaving nothing of the blob visible.
    async fn copy_blob(&self, repo: &RepoName, digest: &Digest, size: u64) -> anyhow::Result<()> {
        let id = UploadId::new_random(uuid::Uuid::new_v4());
        let record = UploadRecord {
            id: id.clone(),
            repo: repo.clone(),
            created_at: self.target.meta.now_millis().await?,
        };
        self.target.meta.create_upload(&record).await?;
        let copied = self.stream_and_commit(&id, digest, size).await;
        if copied.is_err() {
            let _ = self.target.blobs.delete_upload(&id).await;
            let _ = self.target.meta.delete_upload(&id).await;
            return copied;
        }
        if !self.target.meta.complete_upload(&id, digest, size).await? {
            bail!("the target's upload session for blob {digest} vanished before it was linked");
        }
        Ok(())
    }

    async fn stream_and_commit(
        &self,
        id: &UploadId,
        digest: &Digest,
        size: u64,
    ) -> anyhow::Result<()> {
        self.target.blobs.create_upload(id).await?;
        let source = match self.source.blobs.read(digest, None).await {
            Err(BlobStoreError::BlobNotFound) => {
                bail!("blob {digest} is linked in the source but its bytes are missing")
            }
            other => other.with_context(|| format!("reading blob {digest} from the source"))?,
        };
        let tally = Arc::new(Mutex::new((digest.algorithm().hasher(), 0u64)));
        let body: ByteStream = Box::pin(hashing(source, tally.clone()));
        let written = self
            .target
            .blobs
            .append_upload(id, 0, body)
            .await
            .with_context(|| format!("copying blob {digest}"))?;
        let (hasher, streamed) = tally.lock().expect("hash state").clone();
        let actual = hasher.finish();
        if actual != *digest || streamed != size || written != size {
            bail!(
                "the source is corrupt: blob {digest} holds {streamed} bytes that hash to \
                 {actual} (the source records {size} bytes); it was not copied. Restore the file \
                 from a backup, or delete what uses it, and run `berth migrate` again"
            );
        }
        self.target
            .blobs
            .commit_upload(id, digest)
            .await
            .with_context(|| format!("committing blob {digest} in the target"))?;
        Ok(())
    }
}

/// `body`, feeding every chunk to the hash and byte count in `tally` as it passes.
fn hashing(
    body: ByteStream,
    tally: Arc<Mutex<(DigestHasher, u64)>>,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    body.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            let mut state = tally.lock().expect("hash state");
            state.0.update(bytes);
            state.1 += bytes.len() as u64;
        }
        chunk
    })
}
