//! `GET /v2/<name>/referrers/<digest>`: an image index of the manifests that refer to a digest.

use axum::response::{IntoResponse, Response};
use berth_metadata::{Referrer, ReferrerCursor, ReferrerOrder};
use berth_oci::media_type::OCI_INDEX;
use berth_oci::{Digest, RepoName};
use berth_registry::{Registry, RegistryError};
use http::{header, HeaderValue};
use serde_json::{json, Map, Value};

use crate::endpoint::GRAPH_DOC_PATH;
use crate::error::ApiError;
use crate::query::Query;

/// The descriptor of a referrer as the spec lists it: artifactType and annotations included.
pub(super) fn descriptor(referrer: &Referrer) -> Value {
    let mut d = Map::new();
    d.insert("mediaType".into(), json!(referrer.media_type));
    d.insert("digest".into(), json!(referrer.digest.as_str()));
    d.insert("size".into(), json!(referrer.size));
    if let Some(artifact_type) = &referrer.artifact_type {
        d.insert("artifactType".into(), json!(artifact_type));
    }
    let annotations = referrer
        .annotations_json
        .as_deref()
        .and_then(|a| serde_json::from_str::<Value>(a).ok());
    if let Some(annotations) = annotations {
        d.insert("annotations".into(), annotations);
    }
    Value::Object(d)
}

/// The query parameters a next-page link repeats: the subject (ORAS form), `n`, the filters.
fn paging_params(
    n: Option<u32>,
    artifact_types: &[String],
    subject: Option<&Digest>,
) -> Vec<(&'static str, String)> {
    let mut params = Vec::new();
    if let Some(subject) = subject {
        params.push(("digest", subject.to_string()));
    }
    if let Some(n) = n {
        params.push(("n", n.to_string()));
    }
    params.extend(artifact_types.iter().map(|t| ("artifactType", t.clone())));
    params
}

/// The filters and paging parameters every referrers listing takes.
struct ListingQuery {
    /// The `artifactType` values to filter by. An empty value names no type (a media type is
    /// never empty), so it is not a filter: it is ignored, and a request with only empty
    /// values is answered unfiltered, without `OCI-Filters-Applied`.
    artifact_types: Vec<String>,
    n: Option<u32>,
}

impl ListingQuery {
    fn parse(query: &Query) -> Result<ListingQuery, ApiError> {
        let mut artifact_types: Vec<String> = Vec::new();
        for t in query.all("artifactType").filter(|t| !t.is_empty()) {
            if !artifact_types.iter().any(|seen| seen == t) {
                artifact_types.push(t.to_owned());
            }
        }
        Ok(ListingQuery {
            artifact_types,
            n: query.count("n")?,
        })
    }
}

/// The OCI listing's cursor: `last=<digest>`, the last digest of the previous page.
fn digest_cursor(query: &Query) -> Result<Option<ReferrerCursor>, ApiError> {
    let last = query
        .get("last")
        .map(str::parse::<Digest>)
        .transpose()
        .map_err(RegistryError::from)?;
    Ok(last.map(|digest| ReferrerCursor {
        created_at: None,
        digest,
    }))
}

/// The ORAS listing's opaque `nextToken`: `<created ms or "-">~<digest>` of the previous
/// page's last referrer, since that listing is ordered by creation time first.
fn oras_cursor(query: &Query) -> Result<Option<ReferrerCursor>, ApiError> {
    let Some(token) = query.get("nextToken") else {
        return Ok(None);
    };
    let invalid = || crate::error::RequestError::QueryInvalid {
        name: "nextToken",
        reason: "not a token this registry issued; follow the Link header".into(),
    };
    let (created, digest) = token.split_once('~').ok_or_else(invalid)?;
    let created_at = match created {
        "-" => None,
        millis => Some(millis.parse::<i64>().map_err(|_| invalid())?),
    };
    let digest = digest.parse().map_err(|_| invalid())?;
    Ok(Some(ReferrerCursor { created_at, digest }))
}

fn oras_token(cursor: &ReferrerCursor) -> String {
    match cursor.created_at {
        Some(millis) => format!("{millis}~{}", cursor.digest),
        None => format!("-~{}", cursor.digest),
    }
}

pub async fn list(
    registry: &Registry,
    repo: &RepoName,
    subject: &Digest,
    query: &Query,
) -> Result<Response, ApiError> {
    let ListingQuery { artifact_types, n } = ListingQuery::parse(query)?;
    let last = digest_cursor(query)?;
    let page = registry
        .referrers(
            repo,
            subject,
            &artifact_types,
            ReferrerOrder::Digest,
            last.as_ref(),
            n,
        )
        .await?;
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": page.referrers.iter().map(descriptor).collect::<Vec<_>>(),
    });
    let body = serde_json::to_vec(&index).expect("index serialises");
    let mut response = ([(header::CONTENT_TYPE, OCI_INDEX)], body).into_response();
    let headers = response.headers_mut();
    if !artifact_types.is_empty() {
        headers.insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    if let Some(next) = page.next {
        let path = format!("/v2/{repo}/referrers/{subject}");
        super::insert_next_link(
            headers,
            &path,
            &paging_params(n, &artifact_types, None),
            ("last", next.digest.as_str()),
        );
    }
    Ok(response)
}

/// The documentation of the `_berth` extension, as Markdown.
pub fn graph_doc() -> Response {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        include_str!("referrers_graph.md"),
    )
        .into_response()
}

/// Extensions announced by `_oci/ext/discover`; every `url` is absolute.
pub fn discover(parts: &http::request::Parts) -> Response {
    let body = json!({
        "extensions": [
            {
                "name": "_oras",
                "url": "https://github.com/oras-project/artifacts-spec/blob/main/manifest-referrers-api.md",
                "description": "ORAS referrers listing API",
                "endpoints": ["_oras/artifacts/referrers"],
            },
            {
                "name": "_berth",
                "url": format!("{}{GRAPH_DOC_PATH}", super::base_url(parts)),
                "description": "The whole referrers graph of a manifest in one request, to ?depth= levels",
                "endpoints": ["_berth/referrers-graph"],
            },
        ]
    });
    axum::Json(body).into_response()
}

/// The ORAS referrers APIs: `{"referrers": [...]}` with the same filters, newest first by
/// `io.cncf.oras.artifact.created` (undated ones last, ties by digest), paged by `nextToken`.
pub async fn list_oras(
    registry: &Registry,
    repo: &RepoName,
    digest: Option<&Digest>,
    query: &Query,
) -> Result<Response, ApiError> {
    let subject = match digest {
        Some(d) => d.clone(),
        None => query
            .get("digest")
            .ok_or(crate::error::RequestError::DigestMissing)?
            .parse()
            .map_err(RegistryError::from)?,
    };
    let ListingQuery { artifact_types, n } = ListingQuery::parse(query)?;
    let after = oras_cursor(query)?;
    let page = registry
        .referrers(
            repo,
            &subject,
            &artifact_types,
            ReferrerOrder::NewestFirst,
            after.as_ref(),
            n,
        )
        .await?;
    let body = json!({ "referrers": page.referrers.iter().map(descriptor).collect::<Vec<_>>() });
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert("oras-api-version", HeaderValue::from_static("oras/1.0"));
    if let Some(next) = page.next {
        let path = format!("/v2/{repo}/_oras/artifacts/referrers");
        let params = paging_params(n, &artifact_types, Some(&subject));
        super::insert_next_link(headers, &path, &params, ("nextToken", &oras_token(&next)));
    }
    Ok(response)
}
