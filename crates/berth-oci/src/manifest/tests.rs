//! Manifest parsing tests over every manifest kind, using the specifications' own examples.

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/manifests/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).expect("fixture exists")
}

#[test]
fn parses_oci_image_manifest() {
    let m = ParsedManifest::parse(
        &fixture("oci-image-manifest.json"),
        Some(media_type::OCI_MANIFEST),
    )
    .unwrap();
    assert_eq!(m.kind, ManifestKind::OciManifest);
    assert_eq!(m.required_blobs().count(), 4);
    assert_eq!(
        m.referrer_artifact_type(),
        Some("application/vnd.oci.image.config.v1+json")
    );
    assert!(m.annotations.contains_key("com.example.key1"));
}

#[test]
fn parses_oci_artifacts_in_image_manifests() {
    let minimal = ParsedManifest::parse(&fixture("oci-minimal-artifact.json"), None).unwrap();
    assert_eq!(
        minimal.artifact_type.as_deref(),
        Some("application/vnd.example+type")
    );
    let with_config =
        ParsedManifest::parse(&fixture("oci-artifact-with-config.json"), None).unwrap();
    assert_eq!(
        with_config.referrer_artifact_type(),
        Some("application/vnd.example+type"),
        "artifactType wins over config"
    );
    let without =
        ParsedManifest::parse(&fixture("oci-artifact-without-config.json"), None).unwrap();
    assert_eq!(without.kind, ManifestKind::OciManifest);
}

#[test]
fn parses_oci_image_index() {
    for name in [
        "oci-image-index.json",
        "oci-image-index-with-annotations.json",
    ] {
        let m = ParsedManifest::parse(&fixture(name), Some(media_type::OCI_INDEX)).unwrap();
        assert_eq!(m.kind, ManifestKind::OciIndex);
        assert!(m.kind.is_index());
        assert_eq!(m.manifests.len(), 2, "{name}");
        assert_eq!(m.required_blobs().count(), 0);
    }
}

#[test]
fn parses_docker_schema2_manifest_and_list() {
    let m = ParsedManifest::parse(
        &fixture("docker-manifest-v2.json"),
        Some(media_type::DOCKER_MANIFEST),
    )
    .unwrap();
    assert_eq!(m.kind, ManifestKind::DockerManifest);
    assert_eq!(m.required_blobs().count(), 4);
    let list = ParsedManifest::parse(
        &fixture("docker-manifest-list.json"),
        Some(media_type::DOCKER_MANIFEST_LIST),
    )
    .unwrap();
    assert_eq!(list.kind, ManifestKind::DockerManifestList);
    assert_eq!(list.manifests.len(), 2);
}

#[test]
fn parses_legacy_artifact_manifests_with_subject() {
    let oci = ParsedManifest::parse(
        &fixture("oci-artifact-manifest-rc2.json"),
        Some(media_type::OCI_ARTIFACT_MANIFEST),
    )
    .unwrap();
    assert_eq!(oci.kind, ManifestKind::OciArtifact);
    assert_eq!(oci.layers.len(), 1);
    assert!(oci.subject.is_some());
    let oras = ParsedManifest::parse(
        &fixture("oras-artifact-manifest.json"),
        Some(media_type::ORAS_ARTIFACT_MANIFEST),
    )
    .unwrap();
    assert_eq!(oras.kind, ManifestKind::OrasArtifact);
    assert_eq!(
        oras.referrer_artifact_type(),
        Some("application/vnd.cncf.notary.v2.signature")
    );
}

#[test]
fn an_rc2_artifact_manifest_may_omit_artifact_type() {
    let body = br#"{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[]}"#;
    let m = ParsedManifest::parse(body, None).unwrap();
    assert_eq!(m.kind, ManifestKind::OciArtifact);
    assert_eq!(
        m.referrer_artifact_type(),
        None,
        "no config to fall back on"
    );
    let empty_type =
        br#"{"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":""}"#;
    assert_eq!(
        ParsedManifest::parse(empty_type, None)
            .unwrap()
            .referrer_artifact_type(),
        None
    );
}

#[test]
fn only_oras_artifact_manifests_need_their_subject_present() {
    let subject = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":1}"#;
    let oras = format!(
        r#"{{"mediaType":"{}","artifactType":"a/b","subject":{subject}}}"#,
        media_type::ORAS_ARTIFACT_MANIFEST
    );
    let rc2 = format!(
        r#"{{"mediaType":"{}","artifactType":"a/b","subject":{subject}}}"#,
        media_type::OCI_ARTIFACT_MANIFEST
    );
    let image = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{subject},"layers":[],"subject":{subject}}}"#,
        media_type::OCI_MANIFEST
    );
    let parse = |b: &str| ParsedManifest::parse(b.as_bytes(), None).unwrap();
    assert!(parse(&oras).requires_present_subject());
    assert!(!parse(&rc2).requires_present_subject());
    assert!(!parse(&image).requires_present_subject());
    let without = format!(
        r#"{{"mediaType":"{}","artifactType":"a/b"}}"#,
        media_type::ORAS_ARTIFACT_MANIFEST
    );
    assert!(!parse(&without).requires_present_subject());
}

#[test]
fn the_oras_creation_time_is_read_from_its_annotation() {
    let with = |created: &str| {
        let body = format!(
            r#"{{"mediaType":"{}","artifactType":"a/b","annotations":{{"{ORAS_CREATED_ANNOTATION}":"{created}"}}}}"#,
            media_type::ORAS_ARTIFACT_MANIFEST
        );
        ParsedManifest::parse(body.as_bytes(), None)
            .unwrap()
            .oras_created_millis()
    };
    assert_eq!(with("1970-01-01T00:00:01Z"), Some(1_000));
    assert_eq!(with("1970-01-01T01:00:01.5+01:00"), Some(1_500));
    assert_eq!(with("yesterday"), None);
    let oras = ParsedManifest::parse(&fixture("oras-artifact-manifest.json"), None).unwrap();
    assert_eq!(
        oras.oras_created_millis().is_some(),
        oras.annotations.contains_key(ORAS_CREATED_ANNOTATION)
    );
}

#[test]
fn content_type_parameters_are_ignored() {
    let ct = format!("{}; charset=utf-8", media_type::OCI_MANIFEST);
    assert!(ParsedManifest::parse(&fixture("oci-image-manifest.json"), Some(&ct)).is_ok());
}

#[test]
fn media_type_must_agree_with_content_type() {
    let err = ParsedManifest::parse(
        &fixture("oci-image-manifest.json"),
        Some(media_type::OCI_INDEX),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::ManifestInvalid(m) if m.contains("does not match")));
}

#[test]
fn content_type_names_the_kind_when_the_body_does_not() {
    let body = br#"{"schemaVersion":2,"manifests":[]}"#;
    let m = ParsedManifest::parse(body, Some(media_type::DOCKER_MANIFEST_LIST)).unwrap();
    assert_eq!(m.kind, ManifestKind::DockerManifestList);
}

#[test]
fn schema1_is_refused_as_unsupported() {
    let body = br#"{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}"#;
    assert!(matches!(
        ParsedManifest::parse(body, None),
        Err(OciError::ManifestUnsupported(_))
    ));
    let body = br#"{"schemaVersion":2}"#;
    assert!(matches!(
        ParsedManifest::parse(body, Some(media_type::DOCKER_SCHEMA1_SIGNED_MANIFEST)),
        Err(OciError::ManifestUnsupported(_))
    ));
}

#[test]
fn rejects_invalid_manifests() {
    let cases: &[(&[u8], Option<&str>)] = &[
        (b"", None),
        (b"not json", Some(media_type::OCI_MANIFEST)),
        (b"[]", Some(media_type::OCI_MANIFEST)),
        (br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#, None),
        (br#"{"schemaVersion":3,"manifests":[]}"#, Some(media_type::OCI_INDEX)),
        (br#"{"schemaVersion":2,"mediaType":"text/plain"}"#, None),
        (br#"{"schemaVersion":2}"#, Some("application/octet-stream")),
        (br#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:abc","size":1}]}"#, None),
        (br#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":-1}]}"#, None),
        (br#"{"mediaType":"application/vnd.cncf.oras.artifact.manifest.v1+json","blobs":[]}"#, None),
    ];
    for (body, content_type) in cases {
        let result = ParsedManifest::parse(body, *content_type);
        assert!(
            matches!(result, Err(OciError::ManifestInvalid(_))),
            "{}: {result:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn unknown_fields_and_media_types_are_tolerated() {
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.unknown.config","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"x-extra":[1]},
        "layers":[{"mediaType":"application/x-whatever","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}],
        "future":{"nested":true}}"#;
    let m = ParsedManifest::parse(body, None).unwrap();
    assert_eq!(m.required_blobs().count(), 2);
}

#[test]
fn foreign_layers_are_not_required() {
    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
        "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},
        "layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":1,"urls":["https://example.com/layer"]}]}"#;
    let m = ParsedManifest::parse(body, None).unwrap();
    assert_eq!(m.required_blobs().count(), 1);
}
