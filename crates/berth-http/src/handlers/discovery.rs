//! `/v2/`, tag lists and the catalog.

use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_oci::RepoName;
use berth_registry::{Page, Registry};
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::Query;

/// Repository names a filtered listing (the catalog, the browse API's repositories) examines
/// at most per request: unbounded but in tests, which check that paging survives a budget.
pub(super) const LISTING_BUDGET: u32 = if cfg!(test) {
    1_000
} else {
    berth_registry::browse::LISTING_BUDGET
};

pub fn api_version() -> Response {
    Json(json!({})).into_response()
}

/// `Link: <path?n=..&last=..>; rel="next"` when the page is not the last.
fn with_next_link(mut response: Response, path: &str, n: Option<u32>, page: &Page) -> Response {
    if let Some(last) = &page.next {
        let params: Vec<(&str, String)> = n.iter().map(|n| ("n", n.to_string())).collect();
        super::insert_next_link(response.headers_mut(), path, &params, ("last", last));
    }
    response
}

pub async fn tags(
    registry: &Registry,
    repo: &RepoName,
    query: &Query,
) -> Result<Response, ApiError> {
    let n = query.count("n")?;
    let page = registry.list_tags(repo, n, query.get("last")).await?;
    let response = Json(json!({ "name": repo.as_str(), "tags": page.items })).into_response();
    Ok(with_next_link(
        response,
        &format!("/v2/{repo}/tags/list"),
        n,
        &page,
    ))
}

/// The repositories the caller may pull. A page may hold fewer than `n` names (or none) and
/// still link to the next one when a request examines [`LISTING_BUDGET`] names, as the
/// distribution spec allows (only in tests: see the registry's `LISTING_BUDGET`).
pub async fn catalog(
    registry: &Registry,
    query: &Query,
    caller: &Caller,
) -> Result<Response, ApiError> {
    let n = query.count("n")?;
    let last = query.get("last");
    let page = match caller {
        Caller::Open => registry.catalog(n, last).await?,
        _ => {
            let keep = |name: &str| caller.may_pull(name);
            registry
                .catalog_filtered(n, last, &keep, LISTING_BUDGET)
                .await?
        }
    };
    let response = Json(json!({ "repositories": page.items })).into_response();
    Ok(with_next_link(response, "/v2/_catalog", n, &page))
}
