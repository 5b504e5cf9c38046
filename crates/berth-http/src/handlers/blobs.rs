//! Blob GET/HEAD (conditional, with `Range` and `If-Range`) and DELETE.

use axum::body::Body;
use axum::response::Response;
use berth_oci::{Digest, RepoName};
use berth_registry::{Registry, RegistryError};
use headers::{HeaderMapExt, IfRange};
use http::{header, HeaderMap, StatusCode};

use crate::conditions::{entity_tag, Conditions, Target};
use crate::error::ApiError;
use crate::range::{self, RangeChoice};

pub async fn get(
    registry: &Registry,
    repo: &RepoName,
    digest: &Digest,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    let conditions = Conditions::parse(headers)?;
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("docker-content-digest", digest.as_str())
        .header(header::ETAG, format!("\"{digest}\""))
        .header(header::ACCEPT_RANGES, "bytes");
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // Only a conditional or ranged read needs the size before the blob is opened.
    let known_size = if head || !conditions.is_empty() || range_header.is_some() {
        Some(registry.blob_size(repo, digest).await?)
    } else {
        None
    };
    let target = Target {
        digest,
        modified: None,
    };
    if conditions.not_modified(target)? {
        return Ok(super::not_modified(builder));
    }
    if head {
        return Ok(builder
            .header(header::CONTENT_LENGTH, known_size.unwrap_or_default())
            .body(Body::empty())
            .expect("valid response"));
    }
    // A whole-blob read may go to the bucket directly (S3 `redirect`); ranged reads are
    // answered here, where the range is checked against the blob.
    if range_header.is_none() {
        if let Some(url) = registry.blob_url(repo, digest).await? {
            return Ok(builder
                .status(StatusCode::TEMPORARY_REDIRECT)
                .header(header::LOCATION, url)
                .header(header::CONTENT_LENGTH, 0)
                .body(Body::empty())
                .expect("valid response"));
        }
    }
    // `If-Range` that no longer matches asks for the whole blob instead of a part.
    let range_applies = headers
        .typed_get::<IfRange>()
        .is_none_or(|if_range| !if_range.is_modified(Some(&entity_tag(digest)), None));
    let choice = match (range_header.filter(|_| range_applies), known_size) {
        (Some(header), Some(size)) => range::choose(Some(header), size),
        _ => RangeChoice::Whole,
    };
    let range = match choice {
        RangeChoice::Whole => None,
        RangeChoice::Part(range) => Some(range),
        RangeChoice::Unsatisfiable => {
            let size = known_size.unwrap_or_default();
            return Err(RegistryError::RangeNotSatisfiable { size }.into());
        }
    };
    let read = registry.read_blob(repo, digest, range).await?;
    let builder = match read.range {
        Some(r) => builder
            .status(StatusCode::PARTIAL_CONTENT)
            .header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", r.start, r.end - 1, read.size),
            )
            .header(header::CONTENT_LENGTH, r.end - r.start),
        None => builder.header(header::CONTENT_LENGTH, read.size),
    };
    Ok(builder
        .body(Body::from_stream(read.body))
        .expect("valid response"))
}

pub async fn delete(
    registry: &Registry,
    repo: &RepoName,
    digest: &Digest,
) -> Result<Response, ApiError> {
    registry.delete_blob(repo, digest).await?;
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response"))
}
