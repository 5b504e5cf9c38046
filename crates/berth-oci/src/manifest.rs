//! Manifest parsing: from pushed bytes to the references a registry must track.
//!
//! Parsing validates only what the registry relies on (kind, descriptors, digests); every
//! unknown field is tolerated, and the bytes themselves are stored untouched elsewhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::media_type::{self, essence};
use crate::{Digest, OciError};

/// The annotation that dates an artifact for the ORAS referrers API's order.
pub const ORAS_CREATED_ANNOTATION: &str = "io.cncf.oras.artifact.created";

/// A content descriptor as found in manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

impl Descriptor {
    /// Foreign (non-distributable) layers live elsewhere and are not required in the registry.
    pub fn is_foreign(&self) -> bool {
        media_type::FOREIGN_LAYERS.contains(&self.media_type.as_str())
            && self.urls.as_ref().is_some_and(|u| !u.is_empty())
    }
}

/// The manifest formats Berth accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManifestKind {
    OciManifest,
    OciIndex,
    OciArtifact,
    OrasArtifact,
    DockerManifest,
    DockerManifestList,
}

impl ManifestKind {
    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => media_type::OCI_MANIFEST,
            ManifestKind::OciIndex => media_type::OCI_INDEX,
            ManifestKind::OciArtifact => media_type::OCI_ARTIFACT_MANIFEST,
            ManifestKind::OrasArtifact => media_type::ORAS_ARTIFACT_MANIFEST,
            ManifestKind::DockerManifest => media_type::DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => media_type::DOCKER_MANIFEST_LIST,
        }
    }

    fn from_media_type(media_type: &str) -> Result<Option<ManifestKind>, OciError> {
        Ok(Some(match media_type {
            media_type::OCI_MANIFEST => ManifestKind::OciManifest,
            media_type::OCI_INDEX => ManifestKind::OciIndex,
            media_type::OCI_ARTIFACT_MANIFEST => ManifestKind::OciArtifact,
            media_type::ORAS_ARTIFACT_MANIFEST => ManifestKind::OrasArtifact,
            media_type::DOCKER_MANIFEST => ManifestKind::DockerManifest,
            media_type::DOCKER_MANIFEST_LIST => ManifestKind::DockerManifestList,
            media_type::DOCKER_SCHEMA1_MANIFEST | media_type::DOCKER_SCHEMA1_SIGNED_MANIFEST => {
                return Err(schema1_unsupported())
            }
            _ => return Ok(None),
        }))
    }

    pub fn is_index(self) -> bool {
        matches!(
            self,
            ManifestKind::OciIndex | ManifestKind::DockerManifestList
        )
    }
}

fn schema1_unsupported() -> OciError {
    OciError::ManifestUnsupported(
        "Docker image manifest schema 1 is deprecated and not accepted; push schema 2 or OCI"
            .into(),
    )
}

/// The fields of any accepted manifest kind; all optional so that one pass reads every kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    blobs: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// A validated manifest and the references it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub kind: ManifestKind,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    /// Layers of an image, or `blobs` of an artifact manifest.
    pub layers: Vec<Descriptor>,
    /// Children of an index or manifest list.
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: BTreeMap<String, String>,
}

impl ParsedManifest {
    /// Parses and validates `bytes` pushed with the given `Content-Type`.
    ///
    /// The kind comes from the body's `mediaType` and the `Content-Type`; when both name a
    /// manifest kind they must agree.
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<ParsedManifest, OciError> {
        let raw: RawManifest = serde_json::from_slice(bytes)
            .map_err(|e| OciError::ManifestInvalid(format!("malformed manifest JSON: {e}")))?;
        if raw.schema_version == Some(1) {
            return Err(schema1_unsupported());
        }
        let kind = resolve_kind(&raw, content_type)?;
        let needs_schema_v2 =
            !matches!(kind, ManifestKind::OciArtifact | ManifestKind::OrasArtifact);
        if needs_schema_v2 && raw.schema_version != Some(2) {
            return Err(invalid("schemaVersion must be 2"));
        }
        let mut manifest = ParsedManifest {
            kind,
            artifact_type: raw.artifact_type.filter(|t| !t.is_empty()),
            config: None,
            layers: Vec::new(),
            manifests: Vec::new(),
            subject: raw.subject,
            annotations: raw.annotations.unwrap_or_default(),
        };
        match kind {
            ManifestKind::OciManifest | ManifestKind::DockerManifest => {
                manifest.config = Some(raw.config.ok_or_else(|| invalid("config is required"))?);
                manifest.layers = raw.layers.ok_or_else(|| invalid("layers is required"))?;
            }
            ManifestKind::OciIndex | ManifestKind::DockerManifestList => {
                manifest.manifests = raw
                    .manifests
                    .ok_or_else(|| invalid("manifests is required"))?;
            }
            // image-spec 1.1.0-rc2 says an artifact manifest SHOULD carry `artifactType`; the
            // ORAS artifact manifest says it MUST.
            ManifestKind::OciArtifact => manifest.layers = raw.blobs.unwrap_or_default(),
            ManifestKind::OrasArtifact => {
                if manifest.artifact_type.is_none() {
                    return Err(invalid(
                        "artifactType is required in an ORAS artifact manifest",
                    ));
                }
                manifest.layers = raw.blobs.unwrap_or_default();
            }
        }
        Ok(manifest)
    }

    pub fn media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// Blobs that must already be in the repository: config and layers, less foreign layers.
    pub fn required_blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config
            .iter()
            .chain(self.layers.iter().filter(|d| !d.is_foreign()))
    }

    /// The artifact type shown for this manifest in a referrers list: its `artifactType`, else
    /// its config's media type (distribution-spec "Listing Referrers"); none for a manifest
    /// with neither (an index, or an image-spec 1.1.0-rc2 artifact manifest without
    /// `artifactType`), whose descriptor then omits the field as the spec asks of an index.
    pub fn referrer_artifact_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .or_else(|| self.config.as_ref().map(|c| c.media_type.as_str()))
    }

    /// Whether the `subject` must already be a manifest in the repository when this manifest
    /// is pushed. The ORAS artifact manifest requires it (artifacts-spec `artifact-manifest.md`:
    /// a subject not found in the same repository, or not a manifest, is refused with 400);
    /// OCI manifests, indexes and the image-spec rc2 artifact manifest may arrive before their
    /// subject.
    pub fn requires_present_subject(&self) -> bool {
        self.kind == ManifestKind::OrasArtifact && self.subject.is_some()
    }

    /// When the artifact was created, from the `io.cncf.oras.artifact.created` annotation
    /// (RFC 3339), in Unix milliseconds; none when the annotation is absent or not a valid
    /// RFC 3339 time. The ORAS referrers API lists newest first by it.
    pub fn oras_created_millis(&self) -> Option<i64> {
        let text = self.annotations.get(ORAS_CREATED_ANNOTATION)?;
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

fn invalid(message: &str) -> OciError {
    OciError::ManifestInvalid(message.to_owned())
}

fn resolve_kind(raw: &RawManifest, content_type: Option<&str>) -> Result<ManifestKind, OciError> {
    let header = content_type.map(essence).filter(|t| !t.is_empty());
    let from_header = header
        .map(ManifestKind::from_media_type)
        .transpose()?
        .flatten();
    let from_body = raw
        .media_type
        .as_deref()
        .map(ManifestKind::from_media_type)
        .transpose()?
        .flatten();
    match (from_header, from_body, raw.media_type.as_deref()) {
        (Some(h), Some(b), _) if h != b => Err(OciError::ManifestInvalid(format!(
            "mediaType {:?} does not match Content-Type {:?}",
            b.media_type(),
            h.media_type()
        ))),
        (_, Some(b), _) => Ok(b),
        (_, None, Some(unknown)) => Err(OciError::ManifestInvalid(format!(
            "unknown manifest mediaType {unknown:?}"
        ))),
        (Some(h), None, None) => Ok(h),
        (None, None, None) => {
            if raw.manifests.is_some() {
                Ok(ManifestKind::OciIndex)
            } else if raw.config.is_some() {
                Ok(ManifestKind::OciManifest)
            } else {
                Err(OciError::ManifestInvalid(format!(
                    "cannot tell the manifest kind: no mediaType and Content-Type {:?}",
                    header.unwrap_or("")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests;
