//! What a stored manifest's body says for listings: its artifact type and its platforms (an
//! index's children's, or an image's config's).

use berth_oci::{Descriptor, ParsedManifest, RepoName};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};

use crate::Registry;

/// The media types of image configs, which say which platform an image runs on.
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// The largest config read for its platform, in bytes: real configs are a few KiB.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Configs read at once for one page.
const CONFIG_READS: usize = 8;

/// Where an image runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// The CPU variant (`v7`, `v8`), when the image names one; `null` otherwise.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of an index entry or a config: `os` and `architecture` both present, and
    /// not the `unknown/unknown` that BuildKit gives its attestation manifests.
    fn from_json(value: &serde_json::Value) -> Option<Platform> {
        let text = |key: &str| value.get(key)?.as_str().map(str::to_owned);
        let platform = Platform {
            os: text("os")?,
            architecture: text("architecture")?,
            variant: text("variant").filter(|v| !v.is_empty()),
        };
        (platform.os != "unknown" || platform.architecture != "unknown").then_some(platform)
    }
}

/// A stored body parsed again (it was validated when pushed); `None` when this build no longer
/// understands it, and the listing then shows only what the row says.
pub(crate) fn parse(body: &[u8], media_type: &str) -> Option<ParsedManifest> {
    ParsedManifest::parse(body, Some(media_type)).ok()
}

/// The manifest's artifact type as the browse API shows it: `artifactType`, else the config's
/// media type when the config is not an image's (an artifact typed the pre-1.1 way); none for
/// images and indexes.
pub(crate) fn artifact_type(parsed: &ParsedManifest) -> Option<String> {
    parsed.artifact_type.clone().or_else(|| {
        parsed
            .config
            .as_ref()
            .map(|c| c.media_type.as_str())
            .filter(|t| !IMAGE_CONFIGS.contains(t) && *t != "application/vnd.oci.empty.v1+json")
            .map(str::to_owned)
    })
}

/// The platform of each child of an index, once each, in the index's order.
pub(crate) fn index_platforms(children: &[Descriptor]) -> Vec<Platform> {
    let mut platforms: Vec<Platform> = Vec::new();
    for platform in children
        .iter()
        .filter_map(|c| c.platform.as_ref())
        .filter_map(Platform::from_json)
    {
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    platforms
}

/// The config of an image whose platform its config says, when small enough to read.
fn image_config(parsed: &ParsedManifest) -> Option<&Descriptor> {
    parsed
        .config
        .as_ref()
        .filter(|c| IMAGE_CONFIGS.contains(&c.media_type.as_str()) && c.size <= MAX_CONFIG_BYTES)
}

impl Registry {
    /// The platforms a manifest runs on: an index's children's; an image's from its config
    /// (one read of at most 1 MiB, remembered by digest) when the config is an OCI or Docker
    /// image config; else none.
    pub(crate) async fn platforms(
        &self,
        repo: &RepoName,
        parsed: Option<&ParsedManifest>,
    ) -> Vec<Platform> {
        let Some(parsed) = parsed else {
            return Vec::new();
        };
        if parsed.kind.is_index() {
            return index_platforms(&parsed.manifests);
        }
        let Some(config) = image_config(parsed) else {
            return Vec::new();
        };
        if let Some(known) = self.browse_facts.platform(repo, &config.digest) {
            return known.into_iter().collect();
        }
        let platform = self
            .small_blob(repo, &config.digest, MAX_CONFIG_BYTES)
            .await
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|config| Platform::from_json(&config));
        self.browse_facts
            .remember_platform(repo, &config.digest, platform.clone());
        platform.into_iter().collect()
    }

    /// `platforms` of each manifest of a page, a few configs read at once, in page order.
    pub(crate) async fn platforms_of_page(
        &self,
        repo: &RepoName,
        parsed: &[Option<ParsedManifest>],
    ) -> Vec<Vec<Platform>> {
        // Boxed, so that the stream's type names no closure: the handler's future must be
        // `Send` for every lifetime, which rustc cannot prove through a closure's type.
        let reads: Vec<BoxFuture<'_, Vec<Platform>>> = parsed
            .iter()
            .map(|p| self.platforms(repo, p.as_ref()).boxed())
            .collect();
        futures::stream::iter(reads)
            .buffered(CONFIG_READS)
            .collect()
            .await
    }
}
