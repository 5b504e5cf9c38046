//! Manifest GET/HEAD (conditional), PUT (with `?tag=`, conditional) and DELETE (conditional).

use axum::body::Body;
use axum::response::Response;
use berth_oci::{OciError, Reference, RepoName, Tag};
use berth_registry::{ManifestTarget, Registry, RegistryError};
use headers::{HeaderMapExt, LastModified};
use http::{header, HeaderMap, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::conditions::{system_time, Conditions, Target};
use crate::error::{ApiError, RequestError};
use crate::query::Query;

/// A reference that reads and deletes can look up: one that is neither a tag nor a digest
/// names no manifest, so it is simply not found.
fn lookup(reference: Result<Reference, OciError>) -> Result<Reference, ApiError> {
    reference.map_err(|e| {
        let named = match e {
            OciError::TagInvalid(s) | OciError::ReferenceInvalid(s) => s,
            other => other.to_string(),
        };
        let why = format!("{named:?} (not a valid tag or digest, so no manifest has it)");
        RegistryError::ManifestUnknown(why).into()
    })
}

pub async fn get(
    registry: &Registry,
    repo: &RepoName,
    reference: Result<Reference, OciError>,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    let conditions = Conditions::parse(headers)?;
    let manifest = registry.get_manifest(repo, &lookup(reference)?).await?;
    let modified = system_time(manifest.modified_at);
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, &manifest.media_type)
        .header("docker-content-digest", manifest.digest.as_str())
        .header(header::ETAG, format!("\"{}\"", manifest.digest));
    if let Some(headers) = builder.headers_mut() {
        headers.typed_insert(LastModified::from(modified));
    }
    let target = Target {
        digest: &manifest.digest,
        modified: Some(modified),
    };
    if conditions.not_modified(target)? {
        return Ok(super::not_modified(builder));
    }
    let builder = builder.header(header::CONTENT_LENGTH, manifest.body.len());
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
    reference: Result<Reference, OciError>,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let reference = reference.map_err(RegistryError::from)?;
    let precondition = Conditions::parse(headers)?.precondition(reference.clone());
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
        precondition,
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
        .header(header::ETAG, format!("\"{}\"", pushed.digest))
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
    reference: Result<Reference, OciError>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let reference = lookup(reference)?;
    let precondition = Conditions::parse(headers)?.precondition(reference.clone());
    registry
        .delete_manifest(repo, &reference, precondition.as_ref())
        .await?;
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response"))
}
