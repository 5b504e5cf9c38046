//! The referrers API answers the same through both nodes: an image with a signature pushed
//! through A and an SBOM (signed in turn) pushed through B, listed whole and filtered by
//! artifact type; a referrer deleted on one node drops from the other's listing at once.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::artifacts::{Artifact, SBOM, SIGNATURE};
use crate::cluster::Cluster;
use crate::support::http::{header, pseudo_random, Image, Registry, OCI_INDEX};

/// A referrers listing as one node serves it.
#[derive(Debug, PartialEq)]
struct Listing {
    /// `OCI-Filters-Applied`.
    filters: Option<String>,
    /// The index without its descriptors, which are in `descriptors` by digest.
    index: Value,
    descriptors: BTreeMap<String, Value>,
}

async fn referrers(reg: &Registry, repo: &str, subject: &str, filter: Option<&str>) -> Listing {
    let mut path = format!("/v2/{repo}/referrers/{subject}");
    if let Some(artifact_type) = filter {
        path.push_str(&format!("?artifactType={artifact_type}"));
    }
    let response = reg.http.get(reg.url(&path)).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some(OCI_INDEX),
        "GET {path}: content type"
    );
    let filters = header(&response, "oci-filters-applied");
    let mut index: Value = response.json().await.expect("a JSON index");
    let manifests = index["manifests"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("GET {path}: no manifests array"));
    let descriptors = manifests
        .drain(..)
        .map(|d| (d["digest"].as_str().expect("a digest").to_owned(), d))
        .collect();
    Listing {
        filters,
        index,
        descriptors,
    }
}

/// The listing names exactly `expected`, each with its artifact type, size and annotations.
fn assert_lists(listing: &Listing, expected: &[&Artifact], what: &str) {
    let digests: Vec<&String> = listing.descriptors.keys().collect();
    let mut wanted: Vec<&String> = expected.iter().map(|a| &a.digest).collect();
    wanted.sort();
    assert_eq!(digests, wanted, "{what}: referrers listed");
    for artifact in expected {
        let d = &listing.descriptors[&artifact.digest];
        assert_eq!(d["artifactType"], artifact.artifact_type.as_str(), "{what}");
        assert_eq!(d["size"], artifact.manifest.len(), "{what}: size");
        assert_eq!(
            d["mediaType"],
            crate::support::http::OCI_MANIFEST,
            "{what}: media type"
        );
        assert!(
            d["annotations"]["org.example.payload"].is_string(),
            "{what}: annotations of {}: {d}",
            artifact.digest
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_read_the_same_through_both_nodes() {
    let cluster = Cluster::start(&[]).await;
    let (a, b) = cluster.registries();
    let repo = "scale/signed";

    let image = Image::new(repo, "v1", 31, &[20_000]);
    a.push_image(&image).await;
    let size = image.manifest.len();
    let signature = Artifact::new(SIGNATURE, &image.digest, size, pseudo_random(32, 64));
    signature.push(&a, repo).await;
    let sbom = Artifact::new(SBOM, &image.digest, size, pseudo_random(33, 500));
    sbom.push(&b, repo).await;
    let sbom_signature = Artifact::new(
        SIGNATURE,
        &sbom.digest,
        sbom.manifest.len(),
        pseudo_random(34, 64),
    );
    sbom_signature.push(&b, repo).await;

    let cases: [(&str, Option<&str>, Vec<&Artifact>); 5] = [
        (&image.digest, None, vec![&signature, &sbom]),
        (&image.digest, Some(SBOM), vec![&sbom]),
        (&image.digest, Some(SIGNATURE), vec![&signature]),
        (&image.digest, Some("application/vnd.example.none"), vec![]),
        (&sbom.digest, None, vec![&sbom_signature]),
    ];
    for (subject, filter, expected) in &cases {
        let what = format!("referrers of {subject} (filter {filter:?})");
        let on_a = referrers(&a, repo, subject, *filter).await;
        let on_b = referrers(&b, repo, subject, *filter).await;
        assert_lists(&on_a, expected, &format!("{what} on A"));
        assert_eq!(on_a, on_b, "{what}: A and B differ");
        let applied = filter.map(|_| "artifactType".to_owned());
        assert_eq!(on_a.filters, applied, "{what}: OCI-Filters-Applied");
        assert_eq!(
            on_a.index["mediaType"], OCI_INDEX,
            "{what}: index media type"
        );
    }

    // The artifacts pull through both nodes too.
    for (name, reg) in [("A", &a), ("B", &b)] {
        for artifact in [&signature, &sbom, &sbom_signature] {
            let what = format!("artifact {} on {name}", artifact.digest);
            reg.assert_manifest(repo, &artifact.digest, &artifact.manifest, &what)
                .await;
        }
    }

    // Deleted through B, the signature drops from A's listing at the next request.
    let url = b.manifest_url(repo, &signature.digest);
    let deleted = b.http.delete(url).send().await.expect("DELETE");
    assert_eq!(
        deleted.status(),
        StatusCode::ACCEPTED,
        "DELETE of the signature on B"
    );
    for (name, reg) in [("A", &a), ("B", &b)] {
        let what = format!("referrers after the signature's deletion, on {name}");
        let listing = referrers(reg, repo, &image.digest, None).await;
        assert_lists(&listing, &[&sbom], &what);
        reg.assert_manifest_absent(repo, &signature.digest, &what)
            .await;
    }
}
