//! The browse API without access control: tag pages (platforms, referrer counts, badges,
//! orders, paging) and manifest details (SBOM format and packages, pull commands); the
//! helpers that push what they show. The rest of the API is in `browse_requests`.

use super::*;

pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
pub const COSIGN_SIGNATURE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
pub const SPDX: &str = "application/spdx+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const SARIF: &str = "application/sarif+json";

/// An image tagged `tag` whose config says it runs on `os`/`architecture`(/`variant`).
pub async fn push_platform_image(
    app: &TestApp,
    repo: &str,
    tag: &str,
    platform: (&str, &str, Option<&str>),
) -> (Digest, Vec<u8>) {
    let (os, architecture, variant) = platform;
    let mut config = json!({
        "os": os, "architecture": architecture,
        "rootfs": {"type": "layers", "diff_ids": []}, "config": {},
    });
    if let Some(variant) = variant {
        config["variant"] = json!(variant);
    }
    let config = app
        .push_blob(repo, &serde_json::to_vec(&config).unwrap())
        .await;
    let layer = app
        .push_blob(repo, format!("layer of {tag} in {repo}").as_bytes())
        .await;
    let body = image_manifest(&config, &[&layer]);
    (
        app.push_manifest(repo, tag, OCI_MANIFEST, &body).await,
        body,
    )
}

/// An artifact of `artifact_type` whose one layer (of `layer_type`) holds `content`, referring
/// to the manifest `subject` (its digest, bytes and media type); pushed by digest.
pub async fn push_referrer(
    app: &TestApp,
    repo: &str,
    artifact_type: &str,
    layer: (&str, &[u8]),
    subject: (&Digest, &[u8], &str),
) -> (Digest, Vec<u8>) {
    let empty = app.push_blob(repo, b"{}").await;
    let content = app.push_blob(repo, layer.1).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": descriptor(EMPTY_CONFIG, &empty, 2),
        "layers": [descriptor(layer.0, &content, layer.1.len())],
        "subject": descriptor(subject.2, subject.0, subject.1.len()),
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    let digest = Digest::sha256_of(&body);
    (
        app.push_manifest(repo, digest.as_str(), OCI_MANIFEST, &body)
            .await,
        body,
    )
}

/// An SPDX 2.3 document listing `packages` packages.
pub fn spdx_document(packages: usize) -> Vec<u8> {
    let packages: Vec<Value> = (0..packages)
        .map(|i| json!({"name": format!("package-{i}"), "SPDXID": format!("SPDXRef-{i}")}))
        .collect();
    serde_json::to_vec(&json!({
        "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
        "packages": packages,
    }))
    .unwrap()
}

/// An image at `<repo>:v1` (linux/arm64/v8) with a cosign signature, an SPDX SBOM of three
/// packages, an in-toto attestation and a SARIF scan; and an index `<repo>:multi` of a
/// linux/amd64 and a linux/arm64/v8 image. Returns the first image's digest and body.
pub async fn seed(app: &TestApp, repo: &str) -> (Digest, Vec<u8>) {
    let (image, body) = push_platform_image(app, repo, "v1", ("linux", "arm64", Some("v8"))).await;
    let subject = (&image, &body[..], OCI_MANIFEST);
    let signature = b"{\"critical\":{}}".as_slice();
    let referrers: [(&str, (&str, &[u8])); 4] = [
        (
            COSIGN_SIGNATURE,
            (
                "application/vnd.dev.cosign.simplesigning.v1+json",
                signature,
            ),
        ),
        (SPDX, (SPDX, &spdx_document(3))),
        (
            IN_TOTO,
            ("application/vnd.in-toto+json", b"{\"_type\":\"x\"}"),
        ),
        (SARIF, (SARIF, b"{\"version\":\"2.1.0\",\"runs\":[]}")),
    ];
    for (artifact_type, layer) in referrers {
        push_referrer(app, repo, artifact_type, layer, subject).await;
    }
    let (amd64, amd64_body) =
        push_platform_image(app, repo, "amd64", ("linux", "amd64", None)).await;
    let mut children = vec![descriptor(OCI_MANIFEST, &amd64, amd64_body.len())];
    children[0]["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut arm = descriptor(OCI_MANIFEST, &image, body.len());
    arm["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
    children.push(arm);
    let mut attestation = descriptor(OCI_MANIFEST, &amd64, amd64_body.len());
    attestation["platform"] = json!({"os": "unknown", "architecture": "unknown"});
    children.push(attestation);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children});
    app.push_manifest(
        repo,
        "multi",
        OCI_INDEX,
        &serde_json::to_vec(&index).unwrap(),
    )
    .await;
    (image, body)
}

/// The names of a repositories page.
pub fn repository_names(reply: &Reply) -> Vec<String> {
    reply.json()["repositories"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply:?}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

fn tag_names(reply: &Reply) -> Vec<String> {
    reply.json()["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Every tag of every page of `uri`, following `Link`; asserts `next` matches the link.
async fn all_tag_pages(app: &TestApp, uri: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut next = Some(uri.to_owned());
    while let Some(uri) = next {
        let reply = app.get(&uri).await;
        reply.assert_status(StatusCode::OK);
        names.extend(tag_names(&reply));
        next = next_link(&reply);
        let cursor = reply.json()["next"].clone();
        match &next {
            Some(link) => assert!(
                link.contains(
                    &form_urlencoded::byte_serialize(cursor.as_str().unwrap().as_bytes())
                        .collect::<String>()
                ),
                "{link} carries {cursor}"
            ),
            None => assert_eq!(cursor, Value::Null),
        }
    }
    names
}

#[tokio::test]
async fn tags_come_with_platforms_referrers_and_badges() {
    let app = TestApp::new().await;
    let (image, body) = seed(&app, "team/app").await;
    let reply = app.get("/berth/v1/tags?repository=team/app").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    let page = reply.json();
    assert_eq!(page["repository"], "team/app");
    assert_eq!(page["next"], Value::Null);
    assert_eq!(
        page["permissions"],
        json!({"pull": true, "push": true, "delete": true})
    );
    assert_eq!(tag_names(&reply), ["amd64", "multi", "v1"]);
    let v1 = &page["tags"][2];
    assert_eq!(v1["digest"], image.as_str());
    assert_eq!(v1["mediaType"], OCI_MANIFEST);
    assert_eq!(v1["artifactType"], Value::Null);
    assert_eq!(v1["size"], body.len());
    assert!(v1["pushedAt"].as_str().unwrap().ends_with('Z'), "{v1}");
    assert_eq!(
        v1["platforms"],
        json!([{"os": "linux", "architecture": "arm64", "variant": "v8"}])
    );
    let mut counted: Vec<(String, u64)> = v1["referrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["artifactType"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    counted.sort();
    let mut expected: Vec<(String, u64)> = [COSIGN_SIGNATURE, SPDX, IN_TOTO, SARIF]
        .iter()
        .map(|t| (t.to_string(), 1))
        .collect();
    expected.sort();
    assert_eq!(counted, expected);
    assert_eq!(
        v1["badges"],
        json!(["signed", "sbom", "attestation", "scan"])
    );

    let multi = &page["tags"][1];
    assert_eq!(multi["mediaType"], OCI_INDEX);
    assert_eq!(
        multi["platforms"],
        json!([
            {"os": "linux", "architecture": "amd64", "variant": null},
            {"os": "linux", "architecture": "arm64", "variant": "v8"},
        ]),
        "an index's children's platforms, without BuildKit's unknown/unknown"
    );
    assert_eq!(
        multi["referrers"],
        json!([]),
        "children's referrers are not counted"
    );
    assert_eq!(multi["badges"], json!([]));
}

#[tokio::test]
async fn tag_pages_follow_their_cursors_in_every_order() {
    let app = TestApp::new().await;
    let image = app.push_image("pages", "seed", "pages").await;
    let names = ["b", "A", "c", "a", "B"];
    for name in names {
        // One tag per millisecond at least, so that time orders are by push.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        app.push_manifest("pages", name, OCI_MANIFEST, &image.body)
            .await;
    }
    let by_name = ["A", "a", "B", "b", "c", "seed"];
    let reversed: Vec<&str> = by_name.iter().rev().copied().collect();
    let by_time = ["seed", "b", "A", "c", "a", "B"];
    let newest_first: Vec<&str> = by_time.iter().rev().copied().collect();
    for n in [1, 2, 4, 50] {
        let base = format!("/berth/v1/tags?repository=pages&n={n}");
        assert_eq!(all_tag_pages(&app, &base).await, by_name, "n={n}");
        assert_eq!(
            all_tag_pages(&app, &format!("{base}&sort=name")).await,
            by_name
        );
        assert_eq!(
            all_tag_pages(&app, &format!("{base}&sort=-name")).await,
            reversed
        );
        assert_eq!(
            all_tag_pages(&app, &format!("{base}&sort=time")).await,
            by_time
        );
        assert_eq!(
            all_tag_pages(&app, &format!("{base}&sort=-time")).await,
            newest_first
        );
    }
    let first = app
        .get("/berth/v1/tags?repository=pages&n=2&sort=-time")
        .await;
    let link = next_link(&first).unwrap();
    assert!(
        link.starts_with("/berth/v1/tags?repository=pages&n=2&sort=-time&last="),
        "{link}"
    );
}

#[tokio::test]
async fn a_manifest_is_detailed_with_its_sboms_and_pull_commands() {
    let app = TestApp::new().await;
    let (image, body) = seed(&app, "team/app").await;
    let uri = "/berth/v1/manifest?repository=team/app&reference=v1";
    let reply = app
        .send(
            Method::GET,
            uri,
            &[("host", "registry.test:5000")],
            Bytes::new(),
        )
        .await;
    reply.assert_status(StatusCode::OK);
    let details = reply.json();
    assert_eq!(details["repository"], "team/app");
    assert_eq!(details["digest"], image.as_str());
    assert_eq!(details["size"], body.len());
    assert_eq!(details["tags"], json!(["v1"]));
    assert_eq!(details["config"]["mediaType"], OCI_CONFIG);
    assert_eq!(details["layers"].as_array().unwrap().len(), 1);
    assert_eq!(details["layers"][0]["annotations"], json!({}));
    assert_eq!(details["manifests"], json!([]));
    assert_eq!(details["subject"], Value::Null);
    assert_eq!(details["annotations"], json!({}));
    assert_eq!(
        details["platforms"],
        json!([{"os": "linux", "architecture": "arm64", "variant": "v8"}])
    );
    assert_eq!(
        details["badges"],
        json!(["signed", "sbom", "attestation", "scan"])
    );
    let sboms = details["sboms"].as_array().unwrap();
    assert_eq!(sboms.len(), 1, "{details}");
    assert_eq!(sboms[0]["artifactType"], SPDX);
    assert_eq!(sboms[0]["format"], "SPDX 2.3");
    assert_eq!(sboms[0]["packages"], 3);
    assert_eq!(
        details["permissions"],
        json!({"pull": true, "push": true, "delete": true})
    );
    let target = format!("registry.test:5000/team/app@{image}");
    assert_eq!(details["pull"]["docker"], format!("docker pull {target}"));
    assert_eq!(
        details["pull"]["oras"],
        format!("oras pull --plain-http {target}")
    );
    assert!(details["pull"]["skopeo"]
        .as_str()
        .unwrap()
        .contains(&format!("docker://{target}")));
    assert!(details["pull"]["crane"].as_str().unwrap().contains(&target));
    assert!(details["pull"]["podman"]
        .as_str()
        .unwrap()
        .contains(&target));
    // By digest: the same manifest.
    let by_digest = app
        .get(&format!(
            "/berth/v1/manifest?repository=team/app&reference={image}"
        ))
        .await;
    assert_eq!(by_digest.json()["tags"], json!(["v1"]));
    assert_eq!(by_digest.json()["pushedAt"], details["pushedAt"]);

    // The SBOM itself: an artifact with a subject.
    let sbom = sboms[0]["digest"].as_str().unwrap();
    let sbom = app
        .get(&format!(
            "/berth/v1/manifest?repository=team/app&reference={sbom}"
        ))
        .await
        .json();
    assert_eq!(sbom["artifactType"], SPDX);
    assert_eq!(sbom["subject"]["digest"], image.as_str());
    assert_eq!(sbom["tags"], json!([]));
    assert_eq!(sbom["platforms"], json!([]));

    // The index: its children with their platforms.
    let index = app
        .get("/berth/v1/manifest?repository=team/app&reference=multi")
        .await
        .json();
    assert_eq!(index["config"], Value::Null);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 3);
    assert_eq!(index["manifests"][1]["platform"]["variant"], "v8");
    assert_eq!(index["platforms"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_large_or_foreign_sbom_is_listed_without_format() {
    let app = TestApp::new().await;
    let image = app.push_image("sboms", "v1", "x").await;
    let subject = (&image.digest, &image.body[..], OCI_MANIFEST);
    push_referrer(&app, "sboms", "application/vnd.cyclonedx+json", ("application/vnd.cyclonedx+json", br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"a"},{"name":"b"}]}"#), subject).await;
    push_referrer(
        &app,
        "sboms",
        "application/vnd.syft+json",
        ("application/vnd.syft+json", b"{\"artifacts\":[]}"),
        subject,
    )
    .await;
    // Larger than the 16 MiB read: listed, not read.
    let huge = vec![b' '; 16 * 1024 * 1024 + 1];
    push_referrer(&app, "sboms", SPDX, (SPDX, &huge), subject).await;
    let details = app
        .get("/berth/v1/manifest?repository=sboms&reference=v1")
        .await
        .json();
    let mut found: Vec<(Value, Value)> = details["sboms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["format"].clone(), s["packages"].clone()))
        .collect();
    found.sort_by_key(|f| f.0.to_string());
    assert_eq!(
        found,
        [
            (json!("CycloneDX 1.5"), json!(2)),
            (Value::Null, Value::Null),
            (Value::Null, Value::Null),
        ]
    );
}

#[tokio::test]
async fn an_image_whose_config_is_not_an_image_config_or_too_large_has_no_platform() {
    let app = TestApp::new().await;
    let large = app.push_blob("configs", &vec![b' '; 1024 * 1024 + 1]).await;
    let layer = app.push_blob("configs", b"layer").await;
    let mut body = image_manifest(&large, &[&layer]);
    app.push_manifest("configs", "large", OCI_MANIFEST, &body)
        .await;
    // A helm chart: its config is not an image config, so it says no platform.
    let mut chart: Value = serde_json::from_slice(&body).unwrap();
    chart["config"]["mediaType"] = json!("application/vnd.cncf.helm.config.v1+json");
    body = serde_json::to_vec(&chart).unwrap();
    app.push_manifest("configs", "chart", OCI_MANIFEST, &body)
        .await;
    let page = app.get("/berth/v1/tags?repository=configs").await.json();
    assert_eq!(page["tags"][0]["name"], "chart");
    assert_eq!(
        page["tags"][0]["artifactType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    for tag in page["tags"].as_array().unwrap() {
        assert_eq!(tag["platforms"], json!([]), "{tag}");
    }
}
