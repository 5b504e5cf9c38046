//! Property tests of manifest parsing: any bytes or JSON are refused or accepted without a
//! panic, and a generated valid manifest of each accepted kind is accepted with exactly its
//! descriptors. The fuzz target `fuzz/fuzz_targets/manifest.rs` explores the same parser.

use std::collections::BTreeMap;

use berth_oci::{media_type, Descriptor, Digest, ManifestKind, ParsedManifest};
use proptest::prelude::*;
use serde_json::{json, Value};

const KINDS: [ManifestKind; 6] = [
    ManifestKind::OciManifest,
    ManifestKind::OciIndex,
    ManifestKind::OciArtifact,
    ManifestKind::OrasArtifact,
    ManifestKind::DockerManifest,
    ManifestKind::DockerManifestList,
];

fn descriptor() -> impl Strategy<Value = Descriptor> {
    (
        "[a-z]{1,12}/[a-z0-9.+-]{1,24}",
        "[0-9a-f]{64}",
        any::<u64>(),
        proptest::option::of(proptest::collection::btree_map(
            "[a-z.]{1,12}",
            ".{0,12}",
            0..3,
        )),
        proptest::option::of("[a-z]{1,8}/[a-z.]{1,12}"),
    )
        .prop_map(
            |(media_type, hex, size, annotations, artifact_type)| Descriptor {
                media_type,
                digest: format!("sha256:{hex}").parse::<Digest>().unwrap(),
                size,
                urls: None,
                annotations,
                artifact_type,
                platform: None,
            },
        )
}

/// JSON shaped like manifests: the fields the parser reads, with values of any type.
fn manifest_like_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            ".{0,16}",
            "sha256:[0-9a-f]{64}",
            "sha512:[0-9a-f]{0,130}",
            Just(media_type::OCI_MANIFEST.to_owned()),
            Just(media_type::OCI_INDEX.to_owned()),
            Just(media_type::ORAS_ARTIFACT_MANIFEST.to_owned()),
            Just(media_type::DOCKER_SCHEMA1_MANIFEST.to_owned()),
        ]
        .prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("schemaVersion"),
        Just("mediaType"),
        Just("artifactType"),
        Just("config"),
        Just("layers"),
        Just("blobs"),
        Just("manifests"),
        Just("subject"),
        Just("annotations"),
        Just("digest"),
        Just("size"),
        Just("urls"),
        Just("platform"),
        Just("other"),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(key.clone(), inner, 0..6).prop_map(|map| {
                Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        proptest::sample::select(KINDS.to_vec()).prop_map(|k| k.media_type().to_owned()),
        Just(media_type::DOCKER_SCHEMA1_SIGNED_MANIFEST.to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        ".{0,20}",
    ])
}

/// The body of a valid manifest of `kind` with these descriptors.
fn manifest_json(
    kind: ManifestKind,
    config: &Descriptor,
    children: &[Descriptor],
    subject: &Option<Descriptor>,
    annotations: &BTreeMap<String, String>,
) -> Value {
    let mut body = json!({ "mediaType": kind.media_type(), "annotations": annotations });
    match kind {
        ManifestKind::OciManifest | ManifestKind::DockerManifest => {
            body["schemaVersion"] = json!(2);
            body["config"] = json!(config);
            body["layers"] = json!(children);
        }
        ManifestKind::OciIndex | ManifestKind::DockerManifestList => {
            body["schemaVersion"] = json!(2);
            body["manifests"] = json!(children);
        }
        ManifestKind::OciArtifact | ManifestKind::OrasArtifact => {
            body["artifactType"] = json!("application/vnd.example+type");
            body["blobs"] = json!(children);
        }
    }
    if let Some(subject) = subject {
        body["subject"] = json!(subject);
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                   content_type in content_type()) {
        let _ = ParsedManifest::parse(&bytes, content_type.as_deref());
    }

    #[test]
    fn manifest_like_json_is_accepted_only_with_valid_descriptors(
        body in manifest_like_json(),
        content_type in content_type(),
    ) {
        let bytes = serde_json::to_vec(&body).unwrap();
        if let Ok(parsed) = ParsedManifest::parse(&bytes, content_type.as_deref()) {
            let all = parsed.config.iter().chain(&parsed.layers).chain(&parsed.manifests);
            for descriptor in all.chain(&parsed.subject) {
                let digest: Digest = descriptor.digest.as_str().parse().unwrap();
                prop_assert_eq!(&digest, &descriptor.digest);
            }
            if parsed.kind == ManifestKind::OrasArtifact {
                prop_assert!(parsed.artifact_type.is_some());
            }
        }
    }

    #[test]
    fn valid_manifests_are_accepted_with_their_descriptors(
        kind in proptest::sample::select(KINDS.to_vec()),
        config in descriptor(),
        children in proptest::collection::vec(descriptor(), 0..5),
        subject in proptest::option::of(descriptor()),
        annotations in proptest::collection::btree_map("[a-z.]{1,12}", ".{0,12}", 0..3),
        with_header in any::<bool>(),
    ) {
        let body = manifest_json(kind, &config, &children, &subject, &annotations);
        let bytes = serde_json::to_vec_pretty(&body).unwrap();
        let header = with_header.then(|| format!("{}; charset=utf-8", kind.media_type()));
        let parsed = ParsedManifest::parse(&bytes, header.as_deref()).unwrap();
        prop_assert_eq!(parsed.kind, kind);
        prop_assert_eq!(&parsed.subject, &subject);
        prop_assert_eq!(&parsed.annotations, &annotations);
        if kind.is_index() {
            prop_assert_eq!(&parsed.manifests, &children);
            prop_assert!(parsed.layers.is_empty() && parsed.config.is_none());
        } else {
            prop_assert_eq!(&parsed.layers, &children);
            prop_assert!(parsed.manifests.is_empty());
            let has_config = matches!(kind, ManifestKind::OciManifest | ManifestKind::DockerManifest);
            prop_assert_eq!(parsed.config.as_ref(), has_config.then_some(&config));
            prop_assert_eq!(parsed.required_blobs().count(), children.len() + usize::from(has_config));
        }
        // A Content-Type naming another kind contradicts the body and is refused.
        for other in KINDS.iter().filter(|&&other| other != kind) {
            prop_assert!(ParsedManifest::parse(&bytes, Some(other.media_type())).is_err());
        }
    }
}
