//! The browse API (the web UI's JSON API, under `/berth/v1/`): the session, pages of
//! repositories and tags, a manifest's details and a deletion preview. Access was decided
//! before these run (see `Endpoint::accesses`); `permissions` in answers asks the same policy
//! what else the caller may do to the repository. Shapes: `handlers/openapi.json`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_auth::{Access, Action};
use berth_metadata::TagOrder;
use berth_oci::{Reference, RepoName};
use berth_registry::browse::{DeletionScope, TagPosition};
use berth_registry::{Registry, RegistryError};
use serde_json::{json, Value};

use super::pull_commands::pull_commands;
use crate::auth::{Auth, Caller};
use crate::endpoint::{browse_repository, TOKEN_PATH};
use crate::error::{ApiError, RequestError};
use crate::query::Query;

/// Entries of a page when the client does not say (`n`), and the most it may ask for.
const PAGE_SIZE: (u32, u32) = (50, 1000);

/// `n`: a page size from 1 to 1000, default 50.
fn page_size(query: &Query) -> Result<u32, RequestError> {
    match query.count("n")? {
        None => Ok(PAGE_SIZE.0),
        Some(n) if (1..=PAGE_SIZE.1).contains(&n) => Ok(n),
        Some(n) => Err(RequestError::QueryInvalid {
            name: "n",
            reason: format!("{n} is not a page size from 1 to {}", PAGE_SIZE.1),
        }),
    }
}

/// The parameters a next-page link repeats (those the request gave), in a stable order.
fn repeated(query: &Query, names: &[&'static str]) -> Vec<(&'static str, String)> {
    names
        .iter()
        .filter_map(|name| query.get(name).map(|v| (*name, v.to_owned())))
        .collect()
}

/// A JSON answer with `Link: <path?...&last=next>; rel="next"` when `next` is given.
fn paged(body: Value, path: &str, params: &[(&str, String)], next: Option<&str>) -> Response {
    let mut response = Json(body).into_response();
    if let Some(next) = next {
        super::insert_next_link(response.headers_mut(), path, params, ("last", next));
    }
    response
}

/// `{"pull", "push", "delete"}`: what the policy lets the caller do to `repo`.
fn permissions(caller: &Caller, repo: &RepoName) -> Value {
    let may = |action| caller.allows(&Access::repository(repo.clone(), action));
    json!({
        "pull": may(Action::Pull),
        "push": may(Action::Push),
        "delete": may(Action::Delete),
    })
}

/// `{"user", "admin", "authEnabled", "tokenUrl"}`. Never refused: an anonymous caller is
/// answered with `user` null.
pub fn session(auth: &Auth, caller: &Caller) -> Response {
    let admin = [Action::Pull, Action::Push]
        .into_iter()
        .all(|action| caller.allows(&Access::admin(action)));
    let token_url = auth
        .config()
        .and_then(|config| config.issuer.as_ref())
        .map(|_| TOKEN_PATH);
    Json(json!({
        "user": caller.user(),
        "admin": admin,
        "authEnabled": auth.config().is_some(),
        "tokenUrl": token_url,
    }))
    .into_response()
}

/// `{"repositories": [...], "next"}`: the repositories holding a manifest that the caller may
/// pull, by name, filtered by `q` (a case-insensitive substring of the name). A page may
/// hold fewer than `n` repositories, or none, and still have a `next` (see `LISTING_BUDGET`).
pub async fn repositories(
    registry: &Registry,
    caller: &Caller,
    query: &Query,
) -> Result<Response, ApiError> {
    query.only(&["q", "n", "last"])?;
    let n = page_size(query)?;
    // A cursor this registry gave is the name of the previous page's last repository.
    let last = query
        .parsed::<RepoName>("last")
        .map_err(|_| RequestError::QueryInvalid {
            name: "last",
            reason: "not a cursor this registry gave; use the previous page's `next`".into(),
        })?;
    let keep = |repo: &RepoName| caller.may_pull(repo.as_str());
    let page = registry
        .browse_repositories(
            query.get("q").unwrap_or(""),
            last.as_ref().map(RepoName::as_str),
            n,
            &keep,
            super::discovery::LISTING_BUDGET,
        )
        .await?;
    let body = serde_json::to_value(&page).expect("a page serialises");
    let params = repeated(query, &["q", "n"]);
    Ok(paged(
        body,
        "/berth/v1/repositories",
        &params,
        page.next.as_deref(),
    ))
}

/// `sort`: `name` (default), `-name`, `time` (oldest first), `-time` (newest first).
fn tag_order(query: &Query) -> Result<TagOrder, RequestError> {
    match query.get("sort") {
        None | Some("name") => Ok(TagOrder::Name),
        Some("-name") => Ok(TagOrder::NameDescending),
        Some("time") => Ok(TagOrder::Time),
        Some("-time") => Ok(TagOrder::TimeDescending),
        Some(other) => Err(RequestError::QueryInvalid {
            name: "sort",
            reason: format!("{other:?} is not name, -name, time or -time"),
        }),
    }
}

/// `{"repository", "permissions", "tags": [...], "next"}`.
pub async fn tags(
    registry: &Registry,
    caller: &Caller,
    query: &Query,
) -> Result<Response, ApiError> {
    query.only(&["repository", "n", "last", "sort"])?;
    let repo = browse_repository(query)?;
    let n = page_size(query)?;
    let order = tag_order(query)?;
    let last = query.parsed::<TagPosition>("last")?;
    let page = registry.browse_tags(&repo, order, last.as_ref(), n).await?;
    let mut body = serde_json::to_value(&page).expect("a page serialises");
    body["permissions"] = permissions(caller, &repo);
    let params = repeated(query, &["repository", "n", "sort"]);
    Ok(paged(body, "/berth/v1/tags", &params, page.next.as_deref()))
}

/// The `reference` parameter: a tag or a digest. Errors: missing (400), not a tag or digest
/// (400 with the registry's code for it).
fn reference(query: &Query) -> Result<Reference, ApiError> {
    let text = query
        .get("reference")
        .ok_or_else(|| RequestError::QueryInvalid {
            name: "reference",
            reason: "a tag or digest is required".into(),
        })?;
    Ok(text.parse::<Reference>().map_err(RegistryError::from)?)
}

/// The manifest's details with `permissions` and `pull` (commands that pull it by digest from
/// the host the client addressed).
pub async fn manifest(
    registry: &Registry,
    caller: &Caller,
    parts: &http::request::Parts,
    query: &Query,
) -> Result<Response, ApiError> {
    query.only(&["repository", "reference"])?;
    let repo = browse_repository(query)?;
    let reference = reference(query)?;
    let details = registry.browse_manifest(&repo, &reference).await?;
    let mut body = serde_json::to_value(&details).expect("details serialise");
    body["permissions"] = permissions(caller, &repo);
    body["pull"] = pull_commands(parts, &repo, &details.digest);
    Ok(Json(body).into_response())
}

/// `{"digest", "tags", "manifestGoes", "referrers", "policy"}`: what deleting the manifest
/// `reference` names (or, with `scope=tag`, only that tag) would take with it, each referrer
/// saying whether a collection then deletes it (`goes`).
pub async fn deletion_preview(registry: &Registry, query: &Query) -> Result<Response, ApiError> {
    query.only(&["repository", "reference", "scope"])?;
    let repo = browse_repository(query)?;
    let reference = reference(query)?;
    let scope = match (query.get("scope"), reference) {
        (None | Some("manifest"), reference) => DeletionScope::Manifest(reference),
        (Some("tag"), Reference::Tag(tag)) => DeletionScope::Tag(tag),
        (Some("tag"), Reference::Digest(_)) => {
            return Err(RequestError::QueryInvalid {
                name: "scope",
                reason: "scope=tag needs a tag as the reference, not a digest".into(),
            }
            .into())
        }
        (Some(other), _) => {
            return Err(RequestError::QueryInvalid {
                name: "scope",
                reason: format!("{other:?} is not manifest or tag"),
            }
            .into())
        }
    };
    let preview = registry.deletion_preview(&repo, &scope).await?;
    Ok(Json(preview).into_response())
}
