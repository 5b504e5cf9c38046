//! Known artifact types: which referrers make a manifest signed, attested, described by an
//! SBOM or scanned. Pure, no I/O.

use serde::Serialize;

/// What a manifest's referrers say about it, in the order badges are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Badge {
    /// A cosign or notation signature, or a sigstore bundle.
    Signed,
    /// A software bill of materials (SPDX, CycloneDX, Syft).
    Sbom,
    /// An in-toto attestation or a DSSE envelope.
    Attestation,
    /// A vulnerability or static-analysis report (SARIF, Trivy, any `vulnerability` type).
    Scan,
}

const SIGNATURES: [&str; 2] = [
    "application/vnd.dev.cosign.artifact.sig.v1+json",
    "application/vnd.cncf.notary.signature",
];
/// Every version of the sigstore bundle (`...bundle.v0.3+json`, `...bundle+json;version=0.3`).
const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
const ATTESTATIONS: [&str; 3] = [
    "application/vnd.in-toto+json",
    "application/vnd.dsse.envelope.v1+json",
    "application/vnd.dev.cosign.attestation.v1+json",
];
const SBOMS: [&str; 5] = [
    "application/spdx+json",
    "text/spdx",
    "application/vnd.cyclonedx+json",
    "application/vnd.cyclonedx+xml",
    "application/vnd.syft+json",
];
const SCANS: [&str; 3] = [
    "application/sarif+json",
    "application/vnd.aquasec.trivy.report.sarif.v1+json",
    "application/vnd.security.vulnerability.report+json",
];

impl Badge {
    /// The badge an artifact type earns, if it is a known one. Media types compare
    /// case-insensitively and without parameters, except that a sigstore bundle is known by
    /// its prefix whatever its version.
    pub fn of(artifact_type: &str) -> Option<Badge> {
        let lower = artifact_type.to_ascii_lowercase();
        let essence = lower.split(';').next().unwrap_or("").trim();
        if SIGNATURES.contains(&essence) || essence.starts_with(SIGSTORE_BUNDLE_PREFIX) {
            Some(Badge::Signed)
        } else if SBOMS.contains(&essence) {
            Some(Badge::Sbom)
        } else if ATTESTATIONS.contains(&essence) {
            Some(Badge::Attestation)
        } else if SCANS.contains(&essence) || essence.contains("vulnerability") {
            Some(Badge::Scan)
        } else {
            None
        }
    }

    /// The badges a set of referrer artifact types earn, each once, in badge order.
    pub fn of_all<'a>(artifact_types: impl IntoIterator<Item = &'a str>) -> Vec<Badge> {
        let mut badges: Vec<Badge> = artifact_types.into_iter().filter_map(Badge::of).collect();
        badges.sort();
        badges.dedup();
        badges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_earn_their_badges() {
        let cases = [
            (
                "application/vnd.dev.cosign.artifact.sig.v1+json",
                Some(Badge::Signed),
            ),
            ("application/vnd.cncf.notary.signature", Some(Badge::Signed)),
            (
                "application/vnd.dev.sigstore.bundle.v0.3+json",
                Some(Badge::Signed),
            ),
            (
                "application/vnd.dev.sigstore.bundle+json;version=0.3",
                Some(Badge::Signed),
            ),
            ("application/vnd.in-toto+json", Some(Badge::Attestation)),
            (
                "application/vnd.dsse.envelope.v1+json",
                Some(Badge::Attestation),
            ),
            (
                "application/vnd.dev.cosign.attestation.v1+json",
                Some(Badge::Attestation),
            ),
            ("application/spdx+json", Some(Badge::Sbom)),
            ("TEXT/SPDX; charset=utf-8", Some(Badge::Sbom)),
            ("application/vnd.cyclonedx+json", Some(Badge::Sbom)),
            ("application/vnd.cyclonedx+xml", Some(Badge::Sbom)),
            ("application/vnd.syft+json", Some(Badge::Sbom)),
            ("application/sarif+json", Some(Badge::Scan)),
            (
                "application/vnd.aquasec.trivy.report.sarif.v1+json",
                Some(Badge::Scan),
            ),
            (
                "application/vnd.security.vulnerability.report+json",
                Some(Badge::Scan),
            ),
            (
                "application/vnd.example.vulnerability-list+json",
                Some(Badge::Scan),
            ),
            ("application/vnd.oci.image.config.v1+json", None),
            ("application/vnd.example.thing", None),
        ];
        for (artifact_type, badge) in cases {
            assert_eq!(Badge::of(artifact_type), badge, "{artifact_type}");
        }
    }

    #[test]
    fn badges_come_once_each_in_order() {
        let types = [
            "application/sarif+json",
            "application/vnd.in-toto+json",
            "application/spdx+json",
            "application/vnd.dev.cosign.artifact.sig.v1+json",
            "application/vnd.cncf.notary.signature",
            "application/vnd.example.thing",
        ];
        assert_eq!(
            Badge::of_all(types),
            [Badge::Signed, Badge::Sbom, Badge::Attestation, Badge::Scan]
        );
        assert!(Badge::of_all([]).is_empty());
    }
}
