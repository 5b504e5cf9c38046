//! Pushed manifest bodies through `ParsedManifest::parse`, with every `Content-Type` it
//! accepts (and none, and a stray one). Nothing may panic; an accepted manifest's descriptors
//! must carry digests that parse again and must serialize and read back unchanged.

#![no_main]

use arbitrary::Arbitrary;
use berth_oci::manifest::Descriptor;
use berth_oci::{media_type, Digest, ManifestKind, ParsedManifest};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    content_type: u8,
    with_parameters: bool,
    body: &'a [u8],
}

const CONTENT_TYPES: [&str; 9] = [
    media_type::OCI_MANIFEST,
    media_type::OCI_INDEX,
    media_type::OCI_ARTIFACT_MANIFEST,
    media_type::ORAS_ARTIFACT_MANIFEST,
    media_type::DOCKER_MANIFEST,
    media_type::DOCKER_MANIFEST_LIST,
    media_type::DOCKER_SCHEMA1_MANIFEST,
    media_type::DOCKER_SCHEMA1_SIGNED_MANIFEST,
    "application/json",
];

fuzz_target!(|input: Input<'_>| {
    let chosen = CONTENT_TYPES.get(usize::from(input.content_type));
    let content_type = chosen.map(|t| match input.with_parameters {
        true => format!("{t}; charset=utf-8"),
        false => (*t).to_owned(),
    });
    let Ok(manifest) = ParsedManifest::parse(input.body, content_type.as_deref()) else {
        return;
    };
    match manifest.kind {
        ManifestKind::OciManifest | ManifestKind::DockerManifest => {
            assert!(manifest.config.is_some() && manifest.manifests.is_empty())
        }
        ManifestKind::OciIndex | ManifestKind::DockerManifestList => {
            assert!(manifest.config.is_none() && manifest.layers.is_empty())
        }
        ManifestKind::OrasArtifact => assert!(manifest.artifact_type.is_some()),
        ManifestKind::OciArtifact => {}
    }
    let _ = manifest.referrer_artifact_type();
    let _ = manifest.oras_created_millis();
    let _ = manifest.requires_present_subject();
    let descriptors = manifest
        .config
        .iter()
        .chain(&manifest.layers)
        .chain(&manifest.manifests)
        .chain(&manifest.subject);
    for descriptor in descriptors.chain(manifest.required_blobs()) {
        let digest: Digest = descriptor.digest.as_str().parse().expect("digest reparses");
        assert_eq!(digest, descriptor.digest);
        let json = serde_json::to_vec(descriptor).expect("descriptor serializes");
        let back: Descriptor = serde_json::from_slice(&json).expect("descriptor reads back");
        assert_eq!(&back, descriptor);
    }
});
