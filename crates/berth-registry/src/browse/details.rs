//! One manifest in detail: what it is made of, where it runs, its tags, its referrers by type
//! and the SBOMs among them.

use std::collections::{BTreeMap, HashMap};

use berth_metadata::ReferrerOrder;
use berth_oci::{Descriptor, Digest, Reference, RepoName};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Serialize;

use super::badges::Badge;
use super::sbom::SbomSummary;
use super::summary::{self, Platform};
use super::{badges_of, counts_by_subject, serialize_name, serialize_time, ReferrerTypeCount};
use crate::error::Result;
use crate::Registry;

/// Most tags listed for one manifest.
pub const MAX_TAGS_LISTED: u32 = 1000;

/// Most SBOMs read for one manifest.
pub const MAX_SBOMS: u32 = 16;

/// SBOM documents read at once.
const SBOM_READS: usize = 4;

/// A blob a manifest references: its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigSummary {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// A layer of an image (or a blob of an artifact), with its annotations (`{}` when none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerSummary {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub annotations: BTreeMap<String, String>,
}

/// A manifest an index lists, with the platform the index gives it (`null` when none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChildManifest {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub platform: Option<serde_json::Value>,
}

/// Everything the browse API says about one manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDetails {
    #[serde(serialize_with = "serialize_name")]
    pub repository: RepoName,
    pub digest: Digest,
    pub media_type: String,
    /// `artifactType`, else the config's media type when the config is not an image config
    /// (an artifact typed the pre-1.1 way); `null` for images and indexes.
    pub artifact_type: Option<String>,
    /// Bytes of the manifest body.
    pub size: u64,
    /// When the manifest was pushed, RFC 3339.
    #[serde(serialize_with = "serialize_time")]
    pub pushed_at: i64,
    /// Tags pointing at it, in the tag list's order, at most [`MAX_TAGS_LISTED`].
    pub tags: Vec<String>,
    pub config: Option<ConfigSummary>,
    pub layers: Vec<LayerSummary>,
    /// The children of an index (empty for anything else).
    pub manifests: Vec<ChildManifest>,
    pub platforms: Vec<Platform>,
    pub annotations: BTreeMap<String, String>,
    pub subject: Option<Descriptor>,
    pub referrers: Vec<ReferrerTypeCount>,
    pub badges: Vec<Badge>,
    /// The direct referrers that are SBOMs, at most [`MAX_SBOMS`], by digest.
    pub sboms: Vec<SbomSummary>,
}

impl Registry {
    /// The details of the manifest `reference` names in `repo`. `NameUnknown` when the
    /// repository does not exist, `ManifestUnknown` when the reference names nothing.
    pub async fn browse_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<ManifestDetails> {
        let mut stored = self.get_manifest(repo, reference).await?;
        if let Reference::Tag(_) = reference {
            // A tag's `modified_at` is its last move; the details show the manifest's push.
            if let Some(manifest) = self.meta.manifest_by_digest(repo, &stored.digest).await? {
                stored = manifest;
            }
        }
        let digest = stored.digest.clone();
        let parsed = summary::parse(&stored.body, &stored.media_type);
        let tags = self
            .meta
            .tags_of_manifest(repo, &digest, MAX_TAGS_LISTED)
            .await?;
        let referrers = counts_by_subject(
            self.meta
                .count_referrers(repo, std::slice::from_ref(&digest))
                .await?,
        )
        .remove(&digest)
        .unwrap_or_default();
        let sboms = self.sboms(repo, &digest, &referrers).await?;
        let platforms = self.platforms(repo, parsed.as_ref()).await;
        let parsed = parsed.unwrap_or_else(|| {
            tracing::warn!(repo = %repo, digest = %digest, "stored manifest no longer parses");
            opaque()
        });
        Ok(ManifestDetails {
            repository: repo.clone(),
            artifact_type: summary::artifact_type(&parsed),
            media_type: stored.media_type,
            size: stored.body.len() as u64,
            pushed_at: stored.modified_at,
            tags,
            config: parsed.config.as_ref().map(|c| ConfigSummary {
                media_type: c.media_type.clone(),
                digest: c.digest.clone(),
                size: c.size,
            }),
            layers: parsed
                .layers
                .iter()
                .map(|l| LayerSummary {
                    media_type: l.media_type.clone(),
                    digest: l.digest.clone(),
                    size: l.size,
                    annotations: l.annotations.clone().unwrap_or_default(),
                })
                .collect(),
            manifests: parsed
                .manifests
                .iter()
                .map(|m| ChildManifest {
                    media_type: m.media_type.clone(),
                    digest: m.digest.clone(),
                    size: m.size,
                    platform: m.platform.clone(),
                })
                .collect(),
            platforms,
            annotations: parsed.annotations,
            subject: parsed.subject,
            badges: badges_of(&referrers),
            referrers,
            sboms,
            digest,
        })
    }

    /// The SBOMs among the direct referrers of `subject`, whose types `counts` gives, each
    /// with what its first layer says.
    async fn sboms(
        &self,
        repo: &RepoName,
        subject: &Digest,
        counts: &[ReferrerTypeCount],
    ) -> Result<Vec<SbomSummary>> {
        let types: Vec<String> = counts
            .iter()
            .filter_map(|c| c.artifact_type.clone())
            .filter(|t| Badge::of(t) == Some(Badge::Sbom))
            .collect();
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let listed = self
            .meta
            .list_referrers(
                repo,
                subject,
                &types,
                ReferrerOrder::Digest,
                None,
                MAX_SBOMS,
            )
            .await?;
        let digests: Vec<Digest> = listed.iter().map(|r| r.digest.clone()).collect();
        let bodies: HashMap<Digest, Bytes> = self
            .meta
            .manifest_bodies(repo, &digests)
            .await?
            .into_iter()
            .collect();
        // Boxed, so that the stream's type names no closure (see `platforms_of_page`).
        let reads: Vec<BoxFuture<'_, SbomSummary>> = listed
            .into_iter()
            .map(|sbom| {
                let body = bodies.get(&sbom.digest).cloned();
                async move {
                    let facts = match body {
                        Some(body) => self.sbom_facts(repo, &body, &sbom.media_type).await,
                        None => Default::default(),
                    };
                    SbomSummary {
                        digest: sbom.digest,
                        artifact_type: sbom.artifact_type,
                        packages: facts.format.as_ref().and(facts.packages),
                        format: facts.format,
                    }
                }
                .boxed()
            })
            .collect();
        let summaries = futures::stream::iter(reads)
            .buffered(SBOM_READS)
            .collect()
            .await;
        Ok(summaries)
    }
}

/// What is shown of a manifest this build cannot parse: nothing beyond its row.
fn opaque() -> berth_oci::ParsedManifest {
    berth_oci::ParsedManifest {
        kind: berth_oci::ManifestKind::OciManifest,
        artifact_type: None,
        config: None,
        layers: Vec::new(),
        manifests: Vec::new(),
        subject: None,
        annotations: BTreeMap::new(),
    }
}
