//! Blob GET/HEAD (with `Range`) and DELETE.

use axum::body::Body;
use axum::response::Response;
use berth_oci::{Digest, RepoName};
use berth_registry::{RangeRequest, Registry};
use http::{header, HeaderMap, StatusCode};

use crate::error::ApiError;

pub async fn get(
    registry: &Registry,
    repo: &RepoName,
    digest: &Digest,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("docker-content-digest", digest.as_str())
        .header(header::ETAG, format!("\"{digest}\""))
        .header(header::ACCEPT_RANGES, "bytes");
    if head {
        let size = registry.blob_size(repo, digest).await?;
        return Ok(builder
            .header(header::CONTENT_LENGTH, size)
            .body(Body::empty())
            .expect("valid response"));
    }
    // An unparsable Range header is ignored, as RFC 9110 asks: the whole blob is served.
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(RangeRequest::parse);
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
