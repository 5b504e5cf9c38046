//! SBOM documents: their format and how many packages they list, read from the first layer of
//! an SBOM referrer (SPDX JSON or tag-value, CycloneDX JSON), bounded in size.

use berth_oci::{Digest, RepoName};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::summary;
use crate::Registry;

/// The largest SBOM layer read, in bytes; a larger one is listed without format or count.
pub const MAX_SBOM_BYTES: u64 = 16 * 1024 * 1024;

/// What an SBOM document says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SbomFacts {
    /// `SPDX 2.3`, `CycloneDX 1.5`; none for a format not recognised (or not read).
    pub format: Option<String>,
    /// Top-level packages (SPDX `packages`, CycloneDX `components`).
    pub packages: Option<u64>,
}

/// An SBOM that refers to a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomSummary {
    /// The SBOM manifest's digest.
    pub digest: Digest,
    pub artifact_type: Option<String>,
    /// `SPDX 2.3`, `CycloneDX 1.5`, or `null` when the first layer is not a document Berth
    /// recognises, is larger than 16 MiB, or cannot be read.
    pub format: Option<String>,
    /// Packages the document lists at its top level; `null` when `format` is.
    pub packages: Option<u64>,
}

/// The fields of SPDX and CycloneDX JSON documents that say what they are; the rest of the
/// document is skipped without being kept.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonDocument {
    spdx_version: Option<String>,
    packages: Option<Vec<IgnoredAny>>,
    bom_format: Option<String>,
    spec_version: Option<String>,
    components: Option<Vec<IgnoredAny>>,
}

/// Reads a document's format and package count; unknown formats give empty facts.
pub(crate) fn facts_of(bytes: &[u8]) -> SbomFacts {
    if let Ok(doc) = serde_json::from_slice::<JsonDocument>(bytes) {
        if let Some(version) = doc.spdx_version {
            return SbomFacts {
                format: Some(spdx_format(&version)),
                packages: Some(doc.packages.map_or(0, |p| p.len() as u64)),
            };
        }
        if doc
            .bom_format
            .is_some_and(|f| f.eq_ignore_ascii_case("cyclonedx"))
        {
            return SbomFacts {
                format: Some(
                    format!(
                        "CycloneDX {}",
                        doc.spec_version.as_deref().unwrap_or("").trim()
                    )
                    .trim_end()
                    .to_owned(),
                ),
                packages: Some(doc.components.map_or(0, |c| c.len() as u64)),
            };
        }
        return SbomFacts::default();
    }
    spdx_tag_value(bytes).unwrap_or_default()
}

/// `SPDX-2.3` as `SPDX 2.3`.
fn spdx_format(version: &str) -> String {
    let number = version.trim().trim_start_matches("SPDX-");
    format!("SPDX {number}")
}

/// An SPDX tag-value document: its `SPDXVersion:` line and its `PackageName:` lines.
fn spdx_tag_value(bytes: &[u8]) -> Option<SbomFacts> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut version = None;
    let mut packages = 0;
    for line in text.lines().map(str::trim_start) {
        if let Some(v) = line.strip_prefix("SPDXVersion:") {
            version.get_or_insert_with(|| spdx_format(v));
        } else if line.starts_with("PackageName:") {
            packages += 1;
        }
    }
    Some(SbomFacts {
        format: Some(version?),
        packages: Some(packages),
    })
}

impl Registry {
    /// The format and package count of an SBOM manifest of `repo` (its `body`, of
    /// `media_type`), from its first layer when `repo` holds it and it holds at most
    /// [`MAX_SBOM_BYTES`]; remembered by repository and layer digest. A few documents are
    /// read at a time, server-wide.
    pub(crate) async fn sbom_facts(
        &self,
        repo: &RepoName,
        body: &[u8],
        media_type: &str,
    ) -> SbomFacts {
        let Some(layer) =
            summary::parse(body, media_type).and_then(|p| p.layers.into_iter().next())
        else {
            return SbomFacts::default();
        };
        if let Some(known) = self.browse_facts.sbom(repo, &layer.digest) {
            return known;
        }
        let _turn = self.browse_facts.sbom_read_turn().await;
        // Another request may have read it while this one waited.
        if let Some(known) = self.browse_facts.sbom(repo, &layer.digest) {
            return known;
        }
        let facts = match self.small_blob(repo, &layer.digest, MAX_SBOM_BYTES).await {
            Some(bytes) => facts_of(&bytes),
            None => return SbomFacts::default(),
        };
        self.browse_facts
            .remember_sbom(repo, &layer.digest, facts.clone());
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_and_cyclonedx_documents_say_their_format_and_packages() {
        let spdx =
            br#"{"spdxVersion":"SPDX-2.3","name":"x","packages":[{"name":"a"},{"name":"b"}]}"#;
        assert_eq!(
            facts_of(spdx),
            SbomFacts {
                format: Some("SPDX 2.3".into()),
                packages: Some(2)
            }
        );
        let cdx = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"a"}]}"#;
        assert_eq!(
            facts_of(cdx),
            SbomFacts {
                format: Some("CycloneDX 1.5".into()),
                packages: Some(1)
            }
        );
        let empty_spdx = br#"{"spdxVersion":"SPDX-2.2"}"#;
        assert_eq!(facts_of(empty_spdx).packages, Some(0));
        let tag_value = b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nPackageName: a\n\nPackageName: b\nPackageName: c\n";
        assert_eq!(
            facts_of(tag_value),
            SbomFacts {
                format: Some("SPDX 2.3".into()),
                packages: Some(3)
            }
        );
        assert_eq!(facts_of(br#"{"other":"json"}"#), SbomFacts::default());
        assert_eq!(facts_of(b"\x00\xffnot text"), SbomFacts::default());
        assert_eq!(facts_of(b"plain text"), SbomFacts::default());
    }
}
