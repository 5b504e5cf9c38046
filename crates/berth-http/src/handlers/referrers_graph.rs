//! `GET /v2/<name>/_berth/referrers-graph/<digest>`: the referrers of referrers, to a depth,
//! and with `manifests=true` each node's manifest bytes embedded (the descriptor's `data`),
//! paged by bytes (`max_bytes`, `data_from`, `dataNext`). Documented in `referrers_graph.md`.

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use base64::Engine;
use berth_oci::{Digest, RepoName};
use berth_registry::{ReferrerNode, Registry};
use serde_json::{json, Value};

use super::referrers::descriptor;
use crate::error::ApiError;
use crate::query::Query;

/// Default and largest depth of a graph request.
const GRAPH_DEPTH: (u32, u32) = (8, 32);

/// Default and largest bytes of manifests embedded in one answer.
const DATA_BYTES: (u64, u64) = (1024 * 1024, 16 * 1024 * 1024);

/// The nodes of the graph breadth-first: the order `data_from` and `dataNext` count in.
fn breadth_first(nodes: &[ReferrerNode]) -> Vec<&ReferrerNode> {
    let mut order: Vec<&ReferrerNode> = nodes.iter().collect();
    let mut next = 0;
    while next < order.len() {
        let node = order[next];
        order.extend(node.referrers.iter());
        next += 1;
    }
    order
}

/// The breadth-first range `[from, end)` of nodes whose manifests one answer embeds: as many
/// as fit in `max_bytes`, and always the first, however large, so that paging advances.
fn data_page(order: &[&ReferrerNode], from: usize, max_bytes: u64) -> std::ops::Range<usize> {
    let from = from.min(order.len());
    let mut used = 0u64;
    let mut end = from;
    for node in order.iter().skip(from) {
        let size = node.referrer.size;
        if end > from && used.saturating_add(size) > max_bytes {
            break;
        }
        used = used.saturating_add(size);
        end += 1;
    }
    from..end
}

fn graph_node(node: &ReferrerNode, data: &HashMap<Digest, String>) -> Value {
    let mut d = descriptor(&node.referrer);
    if let Some(encoded) = data.get(&node.referrer.digest) {
        d["data"] = Value::String(encoded.clone());
    }
    d["referrers"] = Value::Array(node.referrers.iter().map(|n| graph_node(n, data)).collect());
    d
}

/// The standard base64 of each manifest of `nodes`, by digest, read in one query. A
/// manifest deleted since the graph was read is left without data rather than failing the
/// answer.
async fn embedded(
    registry: &Registry,
    repo: &RepoName,
    nodes: &[&ReferrerNode],
) -> Result<HashMap<Digest, String>, ApiError> {
    let digests: Vec<Digest> = nodes.iter().map(|n| n.referrer.digest.clone()).collect();
    let bodies = registry.manifest_bodies(repo, &digests).await?;
    Ok(bodies
        .into_iter()
        .map(|(digest, body)| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
            (digest, encoded)
        })
        .collect())
}

/// `{"subject": digest, "referrers": [descriptor + "referrers": [...]]}`; with
/// `manifests=true`, nodes from `data_from` (breadth-first index, default 0) carry `data`
/// while `max_bytes` (default 1 MiB, at most 16 MiB) allows, and `dataNext` names the first
/// node left without (`null` when none is), with a `Link` to the page that embeds from it.
pub async fn graph(
    registry: &Registry,
    repo: &RepoName,
    subject: &Digest,
    query: &Query,
) -> Result<Response, ApiError> {
    let depth = query
        .count("depth")?
        .unwrap_or(GRAPH_DEPTH.0)
        .min(GRAPH_DEPTH.1);
    let with_manifests = query.parsed::<bool>("manifests")?.unwrap_or(false);
    let max_bytes = query
        .parsed::<u64>("max_bytes")?
        .unwrap_or(DATA_BYTES.0)
        .min(DATA_BYTES.1);
    let data_from = query.parsed::<usize>("data_from")?.unwrap_or(0);
    let nodes = registry.referrers_graph(repo, subject, depth).await?;
    if !with_manifests {
        let body = json!({
            "subject": subject.as_str(),
            "referrers": nodes.iter().map(|n| graph_node(n, &HashMap::new())).collect::<Vec<_>>(),
        });
        return Ok(axum::Json(body).into_response());
    }
    let order = breadth_first(&nodes);
    let page = data_page(&order, data_from, max_bytes);
    let data = embedded(registry, repo, &order[page.clone()]).await?;
    let data_next = (page.end < order.len()).then_some(page.end);
    let body = json!({
        "subject": subject.as_str(),
        "referrers": nodes.iter().map(|n| graph_node(n, &data)).collect::<Vec<_>>(),
        "dataNext": data_next,
    });
    let mut response = axum::Json(body).into_response();
    if let Some(next) = data_next {
        let mut params: Vec<(&str, String)> = vec![];
        if let Some(depth) = query.get("depth") {
            params.push(("depth", depth.to_owned()));
        }
        params.push(("manifests", "true".to_owned()));
        if let Some(max) = query.get("max_bytes") {
            params.push(("max_bytes", max.to_owned()));
        }
        let path = format!("/v2/{repo}/_berth/referrers-graph/{subject}");
        super::insert_next_link(
            response.headers_mut(),
            &path,
            &params,
            ("data_from", &next.to_string()),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use berth_metadata::Referrer;

    use super::*;

    fn node(name: &str, size: u64, referrers: Vec<ReferrerNode>) -> ReferrerNode {
        ReferrerNode {
            referrer: Referrer {
                digest: Digest::sha256_of(name.as_bytes()),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size,
                artifact_type: None,
                annotations_json: None,
                created_at: None,
            },
            referrers,
        }
    }

    #[test]
    fn nodes_are_counted_breadth_first_and_paged_by_bytes() {
        // a(10) -> [c(30) -> [e(5)]], b(20) -> [d(40)]
        let graph = vec![
            node("a", 10, vec![node("c", 30, vec![node("e", 5, vec![])])]),
            node("b", 20, vec![node("d", 40, vec![])]),
        ];
        let order = breadth_first(&graph);
        let sizes: Vec<u64> = order.iter().map(|n| n.referrer.size).collect();
        assert_eq!(sizes, [10, 20, 30, 40, 5]);
        assert_eq!(data_page(&order, 0, 60), 0..3);
        assert_eq!(data_page(&order, 3, 60), 3..5);
        assert_eq!(data_page(&order, 3, 1), 3..4, "the first of a page always");
        assert_eq!(data_page(&order, 0, u64::MAX), 0..5);
        assert_eq!(data_page(&order, 5, 60), 5..5);
        assert_eq!(data_page(&order, 9, 60), 5..5);
    }
}
