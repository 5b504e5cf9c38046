//! Artifact manifests and their listings: the ORAS subject rule and order, the image-spec rc2
//! artifact manifest without `artifactType`, and empty `artifactType` filters.

use super::*;

const ORAS_MANIFEST: &str = "application/vnd.cncf.oras.artifact.manifest.v1+json";
const RC2_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";
const CREATED: &str = "io.cncf.oras.artifact.created";

/// An artifact manifest of `media_type` (ORAS or rc2) about `subject`, with `annotations`.
fn artifact_manifest(
    media_type: &str,
    artifact_type: Option<&str>,
    subject: Value,
    annotations: Value,
) -> Vec<u8> {
    let mut m = json!({"mediaType": media_type, "subject": subject, "annotations": annotations});
    if let Some(t) = artifact_type {
        m["artifactType"] = json!(t);
    }
    serde_json::to_vec(&m).unwrap()
}

fn subject_of(digest: &Digest, size: usize) -> Value {
    descriptor(OCI_MANIFEST, digest, size)
}

async fn put_by_digest(app: &TestApp, media_type: &str, body: &[u8]) -> Reply {
    app.put_manifest("app", Digest::sha256_of(body).as_str(), media_type, body)
        .await
}

#[tokio::test]
async fn an_oras_artifact_needs_its_subject_as_a_manifest_of_the_repository() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "oras").await;
    let elsewhere = app.push_image("other", "v1", "elsewhere").await;
    let absent = Digest::sha256_of(b"absent");
    for (subject, why) in [
        (subject_of(&absent, 1), "absent"),
        (subject_of(&image.layer, 10), "a blob"),
        (
            subject_of(&elsewhere.digest, elsewhere.body.len()),
            "in another repository",
        ),
    ] {
        let body = artifact_manifest(
            ORAS_MANIFEST,
            Some("application/vnd.example.sig"),
            subject.clone(),
            json!({}),
        );
        let reply = put_by_digest(&app, ORAS_MANIFEST, &body).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
        let message = reply.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("subject"), "{why}: {message}");
        app.assert_manifest_unknown("app", Digest::sha256_of(&body).as_str())
            .await;
        let listed = app
            .get(&format!(
                "/v2/app/referrers/{}",
                subject["digest"].as_str().unwrap()
            ))
            .await;
        assert_eq!(
            listed.json()["manifests"],
            json!([]),
            "{why}: nothing stored"
        );
        // Other manifest kinds may arrive before their subject.
        let rc2 = artifact_manifest(
            RC2_ARTIFACT,
            Some("application/vnd.example.sig"),
            subject,
            json!({}),
        );
        put_by_digest(&app, RC2_ARTIFACT, &rc2)
            .await
            .assert_manifest_created("app", &rc2);
    }
    let body = artifact_manifest(
        ORAS_MANIFEST,
        Some("application/vnd.example.sig"),
        subject_of(&image.digest, image.body.len()),
        json!({}),
    );
    put_by_digest(&app, ORAS_MANIFEST, &body)
        .await
        .assert_manifest_created("app", &body);
}

#[tokio::test]
async fn the_oras_listing_is_newest_first_across_pages_and_the_oci_listing_by_digest() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "dated").await;
    let subject = subject_of(&image.digest, image.body.len());
    let times = [
        Some("2021-09-14T12:00:00Z"),
        None,
        Some("2023-01-01T00:00:00+02:00"),
        Some("2022-06-30T08:15:00.5Z"),
        None,
        Some("2021-09-14T12:00:00Z"),
        Some("not a time"),
    ];
    let mut pushed = Vec::new();
    for (i, time) in times.iter().enumerate() {
        let mut annotations = json!({"n": i.to_string()});
        if let Some(t) = time {
            annotations[CREATED] = json!(t);
        }
        let body = artifact_manifest(
            ORAS_MANIFEST,
            Some("application/vnd.example.sig"),
            subject.clone(),
            annotations,
        );
        let reply = put_by_digest(&app, ORAS_MANIFEST, &body).await;
        pushed.push((*time, reply.assert_manifest_created("app", &body)));
    }
    let millis = |t: Option<&str>| {
        t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis())
    };
    let mut expected = pushed.clone();
    expected.sort_by_key(|(t, d)| {
        (
            millis(*t).is_none(),
            std::cmp::Reverse(millis(*t)),
            d.clone(),
        )
    });
    let expected: Vec<String> = expected.iter().map(|(_, d)| d.to_string()).collect();
    for first in [
        format!(
            "/v2/app/_oras/artifacts/referrers?digest={}&n=2",
            image.digest
        ),
        format!(
            "/oras/artifacts/v1/app/manifests/{}/referrers?n=3",
            image.digest
        ),
    ] {
        let (mut listed, mut next) = (Vec::new(), Some(first.clone()));
        while let Some(uri) = next {
            let reply = app.get(&uri).await;
            reply.assert_status(StatusCode::OK);
            for d in reply.json()["referrers"].as_array().unwrap() {
                listed.push(d["digest"].as_str().unwrap().to_owned());
            }
            next = next_link(&reply);
        }
        assert_eq!(listed, expected, "{first}");
    }
    let by_digest = app
        .get(&format!("/v2/app/referrers/{}", image.digest))
        .await;
    let oci: Vec<String> = by_digest.json()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(oci, sorted, "the OCI listing keeps its digest order");
    app.get(&format!(
        "/v2/app/_oras/artifacts/referrers?digest={}&nextToken=garbage",
        image.digest
    ))
    .await
    .assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");
}

#[tokio::test]
async fn an_rc2_artifact_manifest_without_artifact_type_is_listed_without_one() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "rc2").await;
    let body = artifact_manifest(
        RC2_ARTIFACT,
        None,
        subject_of(&image.digest, image.body.len()),
        json!({"k": "v"}),
    );
    let digest = put_by_digest(&app, RC2_ARTIFACT, &body)
        .await
        .assert_manifest_created("app", &body);
    app.assert_manifest("app", digest.as_str(), &body, RC2_ARTIFACT)
        .await;
    let listed = app
        .get(&format!("/v2/app/referrers/{}", image.digest))
        .await;
    assert_eq!(
        listed.json()["manifests"],
        json!([{"mediaType": RC2_ARTIFACT, "digest": digest.as_str(), "size": body.len(), "annotations": {"k": "v"}}])
    );
}

#[tokio::test]
async fn empty_artifact_type_values_are_not_filters() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "filters").await;
    let subject = subject_of(&image.digest, image.body.len());
    for kind in ["sig", "sbom"] {
        let t = format!("application/vnd.example.{kind}");
        let body = artifact_manifest(ORAS_MANIFEST, Some(&t), subject.clone(), json!({}));
        put_by_digest(&app, ORAS_MANIFEST, &body)
            .await
            .assert_manifest_created("app", &body);
    }
    let base = format!("/v2/app/referrers/{}", image.digest);
    let empty = app.get(&format!("{base}?artifactType=")).await;
    assert_eq!(empty.json()["manifests"].as_array().unwrap().len(), 2);
    assert!(empty.headers.get("oci-filters-applied").is_none());
    let mixed = app
        .get(&format!(
            "{base}?artifactType=&artifactType=application%2Fvnd.example.sig"
        ))
        .await;
    assert_eq!(mixed.json()["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(mixed.header("oci-filters-applied"), "artifactType");
    let oras = app
        .get(&format!(
            "/v2/app/_oras/artifacts/referrers?digest={}&artifactType=",
            image.digest
        ))
        .await;
    assert_eq!(oras.json()["referrers"].as_array().unwrap().len(), 2);
}

/// The ORAS artifact manifest's `blobs` "MUST NOT refer to another manifest": a manifest is
/// not a blob of the repository, so such a push is refused and stores nothing.
#[tokio::test]
async fn an_oras_artifact_cannot_list_a_manifest_among_its_blobs() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "closure").await;
    let mut body: Value = serde_json::from_slice(&artifact_manifest(
        ORAS_MANIFEST,
        Some("application/vnd.example.sig"),
        subject_of(&image.digest, image.body.len()),
        json!({}),
    ))
    .unwrap();
    body["blobs"] = json!([subject_of(&image.digest, image.body.len())]);
    let body = serde_json::to_vec(&body).unwrap();
    put_by_digest(&app, ORAS_MANIFEST, &body)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
    app.assert_manifest_unknown("app", Digest::sha256_of(&body).as_str())
        .await;
}

/// The ORAS listing "MUST include these references even if the given manifest does not
/// exist": OCI manifests may refer to a subject not pushed yet.
#[tokio::test]
async fn the_oras_listing_includes_referrers_of_an_absent_subject() {
    let app = TestApp::new().await;
    let config = app.push_blob("app", b"{}").await;
    let absent = Digest::sha256_of(b"pushed later");
    let mut manifest: Value = serde_json::from_slice(&image_manifest(&config, &[])).unwrap();
    manifest["subject"] = subject_of(&absent, 1);
    let body = serde_json::to_vec(&manifest).unwrap();
    let digest = put_by_digest(&app, OCI_MANIFEST, &body)
        .await
        .assert_manifest_created("app", &body);
    let oras = app
        .get(&format!(
            "/v2/app/_oras/artifacts/referrers?digest={absent}"
        ))
        .await;
    assert_eq!(oras.json()["referrers"][0]["digest"], digest.as_str());
}

/// "If the artifactType is empty or missing in the image manifest, the value of artifactType
/// MUST be set to the config descriptor mediaType value. If the artifactType is empty or
/// missing in an index, the artifactType MUST be omitted. The descriptors MUST include
/// annotations from the image manifest or index."
#[tokio::test]
async fn an_empty_artifact_type_is_a_missing_one() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "empty type").await;
    let config = app.push_blob("app", b"{\"kind\":\"config\"}").await;
    let subject = subject_of(&image.digest, image.body.len());
    let mut manifest: Value = serde_json::from_slice(&image_manifest(&config, &[])).unwrap();
    manifest["artifactType"] = json!("");
    manifest["subject"] = subject.clone();
    manifest["annotations"] = json!({"from": "manifest"});
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = put_by_digest(&app, OCI_MANIFEST, &manifest)
        .await
        .assert_manifest_created("app", &manifest);
    let mut index: Value =
        serde_json::from_slice(&index_manifest(OCI_INDEX, OCI_MANIFEST, &[&image.digest])).unwrap();
    index["artifactType"] = json!("");
    index["subject"] = subject;
    index["annotations"] = json!({"from": "index"});
    let index = serde_json::to_vec(&index).unwrap();
    let index_digest = put_by_digest(&app, OCI_INDEX, &index)
        .await
        .assert_manifest_created("app", &index);
    let listed = app
        .get(&format!("/v2/app/referrers/{}", image.digest))
        .await;
    let listed = listed.json()["manifests"].as_array().unwrap().clone();
    let of = |digest: &Digest| {
        listed
            .iter()
            .find(|d| d["digest"] == digest.as_str())
            .unwrap_or_else(|| panic!("{digest} not listed: {listed:?}"))
            .clone()
    };
    let from_manifest = of(&manifest_digest);
    assert_eq!(from_manifest["artifactType"], OCI_CONFIG);
    assert_eq!(from_manifest["annotations"], json!({"from": "manifest"}));
    let from_index = of(&index_digest);
    assert!(from_index.get("artifactType").is_none(), "{from_index}");
    assert_eq!(from_index["annotations"], json!({"from": "index"}));
}
