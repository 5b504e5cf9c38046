//! The reads of the browse API (the web UI's JSON API): tag pages with their manifests,
//! referrer counts per subject and artifact type, repository summaries. Each read costs what
//! its page holds, not what the repository holds: every one is a range of an index.

use async_trait::async_trait;
use berth_oci::{Digest, RepoName};
use bytes::Bytes;

use crate::error::Result;
use crate::model::Referrer;

/// The order of a tag page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagOrder {
    /// By name compared case-insensitively, ties by bytes (the tag list's order).
    Name,
    /// The exact reverse of `Name`.
    NameDescending,
    /// Oldest tag move first, ties by name in byte order.
    Time,
    /// The exact reverse of `Time`: newest first.
    TimeDescending,
}

/// Where the next tag page starts: strictly after this tag in the page's order. Only `name`
/// matters to the name orders; the time orders compare `(tagged_at, name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCursor {
    pub name: String,
    /// When the tag last moved, Unix milliseconds.
    pub tagged_at: i64,
}

/// A tag with the manifest it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedManifest {
    pub tag: String,
    /// When the tag last moved (was pushed or re-pointed), Unix milliseconds.
    pub tagged_at: i64,
    pub digest: Digest,
    pub media_type: String,
    /// Bytes of the manifest body.
    pub size: u64,
    /// The manifest exactly as pushed, so that summaries (platforms, artifact type) need no
    /// second read.
    pub body: Bytes,
}

/// How many manifests of one artifact type refer to one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrerCount {
    pub subject: Digest,
    /// The type the referrers listing shows (`artifactType`, else the config's media type);
    /// none for referrers with neither.
    pub artifact_type: Option<String>,
    pub count: u64,
}

/// What one repository holds, for a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositorySummary {
    pub repo: RepoName,
    pub tags: u64,
    pub manifests: u64,
    /// Bytes of the blobs linked into the repository, whether other repositories link them
    /// too or not (`RepositoryUsage::blob_bytes`).
    pub blob_bytes: u64,
    /// Bytes of the manifest bodies.
    pub manifest_bytes: u64,
    /// The latest manifest push or tag move, Unix milliseconds; none without either.
    pub last_push: Option<i64>,
}

/// The browse API's reads; every `MetadataStore` implements them.
#[async_trait]
pub trait BrowseReads: Send + Sync {
    /// Tags of `repo` with their manifests, in `order`, strictly after `after`, at most
    /// `limit`. Empty for a repository that does not exist. One range of a tag index joined to
    /// the manifests by primary key.
    async fn list_tagged_manifests(
        &self,
        repo: &RepoName,
        order: TagOrder,
        after: Option<&TagCursor>,
        limit: u32,
    ) -> Result<Vec<TaggedManifest>>;

    /// The tags of `repo` pointing at `digest`, in the tag list's order (case-insensitive,
    /// ties by bytes), at most `limit`.
    async fn tags_of_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        limit: u32,
    ) -> Result<Vec<String>>;

    /// The direct referrers of each of `subjects` in `repo`, counted per artifact type, in one
    /// query over the referrers index; ordered by subject, then type (none first). Subjects
    /// without referrers have no entry.
    async fn count_referrers(
        &self,
        repo: &RepoName,
        subjects: &[Digest],
    ) -> Result<Vec<ReferrerCount>>;

    /// Names of the repositories holding at least one manifest whose name contains `contains`
    /// (names are lowercase, so give it lowercased; empty matches every name), in lexical
    /// order, strictly after `after`, at most `limit`.
    async fn search_repositories(
        &self,
        contains: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RepoName>>;

    /// The direct referrers of each of `subjects` in `repo`, in one query over the referrers
    /// index: `(subject, referrer)` ordered by subject, then referrer digest, at most `limit`
    /// in all. A referrers graph reads one level per call, not one node.
    async fn referrers_of_subjects(
        &self,
        repo: &RepoName,
        subjects: &[Digest],
        limit: u32,
    ) -> Result<Vec<(Digest, Referrer)>>;

    /// The bodies of those of `digests` that are manifests of `repo`, by digest, in one
    /// query; absent digests are left out.
    async fn manifest_bodies(
        &self,
        repo: &RepoName,
        digests: &[Digest],
    ) -> Result<Vec<(Digest, Bytes)>>;

    /// The summaries of `repos`, in the order given; a repository the store does not know is
    /// summarised as empty. Each figure reads an index range of its repository.
    async fn repository_summaries(&self, repos: &[RepoName]) -> Result<Vec<RepositorySummary>>;
}
