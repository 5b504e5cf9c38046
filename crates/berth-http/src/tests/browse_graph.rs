//! The `_berth` referrers graph with `manifests=true`: every node's manifest bytes embedded
//! breadth-first, paged by `max_bytes` through `dataNext` and `Link`.

use std::collections::BTreeMap;

use base64::Engine;

use super::browse::{push_referrer, spdx_document, COSIGN_SIGNATURE, SPDX};
use super::*;

/// The graph's nodes breadth-first, as the answer nests them.
fn breadth_first(graph: &Value) -> Vec<Value> {
    let mut order: Vec<Value> = graph["referrers"].as_array().unwrap().clone();
    let mut next = 0;
    while next < order.len() {
        let children = order[next]["referrers"].as_array().unwrap().clone();
        order.extend(children);
        next += 1;
    }
    order
}

/// The bytes of a node's `data`, checked against its digest and size.
fn data_of(node: &Value) -> Option<Vec<u8>> {
    let encoded = node.get("data")?.as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(Digest::sha256_of(&bytes).as_str(), node["digest"]);
    assert_eq!(bytes.len() as u64, node["size"].as_u64().unwrap());
    Some(bytes)
}

/// An image with an SBOM and a second SBOM, a signature on the first, and a signature on that
/// signature: four referrers over three levels. Returns the image's digest.
async fn chain(app: &TestApp) -> Digest {
    let image = app.push_image("chain", "v1", "chain").await;
    let image_subject = (&image.digest, &image.body[..], OCI_MANIFEST);
    let (sbom, sbom_body) =
        push_referrer(app, "chain", SPDX, (SPDX, &spdx_document(2)), image_subject).await;
    push_referrer(app, "chain", SPDX, (SPDX, &spdx_document(5)), image_subject).await;
    let signature_layer = (
        "application/vnd.dev.cosign.simplesigning.v1+json",
        &b"{}"[..],
    );
    let (signature, signature_body) = push_referrer(
        app,
        "chain",
        COSIGN_SIGNATURE,
        signature_layer,
        (&sbom, &sbom_body, OCI_MANIFEST),
    )
    .await;
    push_referrer(
        app,
        "chain",
        COSIGN_SIGNATURE,
        (
            "application/vnd.dev.cosign.simplesigning.v1+json",
            &b"{\"again\":1}"[..],
        ),
        (&signature, &signature_body, OCI_MANIFEST),
    )
    .await;
    image.digest
}

#[tokio::test]
async fn every_node_carries_its_manifest_bytes() {
    let app = TestApp::new().await;
    let image = chain(&app).await;
    let uri = format!("/v2/chain/_berth/referrers-graph/{image}?manifests=true");
    let reply = app.get(&uri).await;
    reply.assert_status(StatusCode::OK);
    let graph = reply.json();
    assert_eq!(graph["dataNext"], Value::Null);
    assert_eq!(next_link(&reply), None);
    let nodes = breadth_first(&graph);
    assert_eq!(nodes.len(), 4);
    for node in &nodes {
        let bytes = data_of(node).unwrap_or_else(|| panic!("no data in {node}"));
        // The signature on the SBOM names the SBOM as its subject.
        let manifest: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(manifest["subject"]["digest"].is_string());
    }
    // Without manifests=true: no data, no dataNext.
    let plain = app
        .get(&format!("/v2/chain/_berth/referrers-graph/{image}"))
        .await
        .json();
    assert!(breadth_first(&plain)
        .iter()
        .all(|n| n.get("data").is_none()));
    assert!(plain.get("dataNext").is_none());
}

#[tokio::test]
async fn a_small_max_bytes_pages_through_every_node_exactly_once() {
    let app = TestApp::new().await;
    let image = chain(&app).await;
    for max_bytes in [0, 1, 700, 1_500, 100_000] {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut uri = Some(format!(
            "/v2/chain/_berth/referrers-graph/{image}?depth=8&manifests=true&max_bytes={max_bytes}"
        ));
        let mut pages = 0;
        while let Some(next) = uri {
            let reply = app.get(&next).await;
            reply.assert_status(StatusCode::OK);
            let graph = reply.json();
            let nodes = breadth_first(&graph);
            let with_data: Vec<usize> = (0..nodes.len())
                .filter(|&k| data_of(&nodes[k]).is_some())
                .collect();
            assert!(!with_data.is_empty(), "every page embeds one node at least");
            // The embedded nodes are consecutive, and dataNext follows the last of them.
            let expected_next = with_data.last().unwrap() + 1;
            assert_eq!(with_data, (with_data[0]..expected_next).collect::<Vec<_>>());
            for k in &with_data {
                *seen
                    .entry(nodes[*k]["digest"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
            uri = next_link(&reply);
            match &uri {
                Some(link) => {
                    assert_eq!(graph["dataNext"], expected_next);
                    assert!(link.contains("manifests=true"), "{link}");
                    assert!(link.contains(&format!("max_bytes={max_bytes}")), "{link}");
                    assert!(
                        link.ends_with(&format!("data_from={expected_next}")),
                        "{link}"
                    );
                }
                None => {
                    assert_eq!(graph["dataNext"], Value::Null);
                    assert_eq!(expected_next, nodes.len());
                }
            }
            pages += 1;
            assert!(pages <= 4, "max_bytes={max_bytes}: more pages than nodes");
        }
        assert_eq!(seen.len(), 4, "max_bytes={max_bytes}: {seen:?}");
        assert!(seen.values().all(|&n| n == 1), "{seen:?}");
        if max_bytes <= 1 {
            assert_eq!(pages, 4, "one node per page when none fits");
        }
        if max_bytes == 100_000 {
            assert_eq!(pages, 1);
        }
    }
    // Past the end: no data, no next page.
    let past = app
        .get(&format!(
            "/v2/chain/_berth/referrers-graph/{image}?manifests=true&data_from=99"
        ))
        .await;
    assert!(breadth_first(&past.json())
        .iter()
        .all(|n| n.get("data").is_none()));
    assert_eq!(past.json()["dataNext"], Value::Null);
    app.get(&format!(
        "/v2/chain/_berth/referrers-graph/{image}?manifests=maybe"
    ))
    .await
    .assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");
    app.get(&format!(
        "/v2/chain/_berth/referrers-graph/{image}?manifests=true&max_bytes=-1"
    ))
    .await
    .assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");
}
