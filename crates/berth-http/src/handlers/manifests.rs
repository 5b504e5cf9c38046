//! Manifest GET/HEAD, PUT (with `?tag=`) and DELETE.

use axum::body::Body;
use axum::response::Response;
use berth_oci::{Reference, RepoName, Tag};
use berth_registry::{ManifestTarget, Registry, RegistryError};
use http::{header, HeaderMap, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::{ApiError, RequestError};
use crate::query::Query;

pub async fn get(
    registry: &Registry,
    repo: &RepoName,
    reference: &Reference,
    head: bool,
) -> Result<Response, ApiError> {
    let manifest = registry.get_manifest(repo, reference).await?;
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, &manifest.media_type)
        .header(header::CONTENT_LENGTH, manifest.body.len())
        .header("docker-content-digest", manifest.digest.as_str())
        .header(header::ETAG, format!("\"{}\"", manifest.digest));
    let body = if head {
        Body::empty()
    } else {
        Body::from(manifest.body)
    };
    Ok(builder.body(body).expect("valid response"))
}

pub async fn put(
    registry: &Registry,
    repo: &RepoName,
    reference: Reference,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = registry.config().max_manifest_bytes;
    let too_large = RequestError::ManifestTooLarge { limit };
    if super::content_length(headers).is_some_and(|l| l > limit as u64) {
        return Err(too_large.into());
    }
    // Only an overrun of the limit is "too large"; a body that fails to arrive is not.
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                too_large
            } else {
                RequestError::ManifestBodyUnreadable
            }
        })?
        .to_bytes();
    let extra_tags = query
        .all("tag")
        .map(str::parse::<Tag>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(RegistryError::from)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let tagged_by_query = !extra_tags.is_empty();
    let target = ManifestTarget {
        reference,
        extra_tags,
    };
    let pushed = registry
        .put_manifest(repo, target, content_type, bytes)
        .await?;
    let mut builder = Response::builder()
        .status(StatusCode::CREATED)
        .header(
            header::LOCATION,
            format!("/v2/{repo}/manifests/{}", pushed.digest),
        )
        .header("docker-content-digest", pushed.digest.as_str())
        .header(header::CONTENT_LENGTH, 0);
    if let Some(subject) = &pushed.subject {
        builder = builder.header("oci-subject", subject.as_str());
    }
    if tagged_by_query {
        for tag in &pushed.tags {
            builder = builder.header("oci-tag", tag.as_str());
        }
    }
    Ok(builder.body(Body::empty()).expect("valid response"))
}

pub async fn delete(
    registry: &Registry,
    repo: &RepoName,
    reference: &Reference,
) -> Result<Response, ApiError> {
    registry.delete_manifest(repo, reference).await?;
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response"))
}
