//! Blob upload sessions: POST (start, monolithic, mount), PATCH, GET status, PUT, DELETE.

use axum::body::Body;
use axum::response::Response;
use berth_oci::{Digest, RepoName, UploadId};
use berth_registry::{ChunkBounds, MountOutcome, Registry, UploadStatus};
use http::{header, HeaderMap, StatusCode};

use super::{body_stream, content_length};
use crate::error::{range_header, ApiError, RequestError};
use crate::query::Query;
use crate::range;

fn upload_location(status: &UploadStatus) -> String {
    format!("/v2/{}/blobs/uploads/{}", status.repo, status.id)
}

/// 202 (or 204 for a status query) with where the session stands.
fn session_response(code: StatusCode, status: &UploadStatus) -> Response {
    Response::builder()
        .status(code)
        .header(header::LOCATION, upload_location(status))
        .header(header::RANGE, range_header(status.len))
        .header("docker-upload-uuid", status.id.as_str())
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}

/// 201 with the pullable location of a stored blob.
fn blob_created(repo: &RepoName, digest: &Digest) -> Response {
    Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{repo}/blobs/{digest}"))
        .header("docker-content-digest", digest.as_str())
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .expect("valid response")
}

/// The chunk a PATCH or PUT declares: its `Content-Range` (see [`range::content_range`]),
/// else only its `Content-Length`.
fn chunk_bounds(headers: &HeaderMap) -> Result<ChunkBounds, RequestError> {
    let length = content_length(headers);
    match headers.get(header::CONTENT_RANGE) {
        None => Ok(ChunkBounds {
            start: None,
            len: length,
        }),
        Some(value) => range::content_range(value.to_str().unwrap_or_default(), length),
    }
}

pub async fn start(
    registry: &Registry,
    repo: &RepoName,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if let Some(mount) = query.get("mount") {
        let digest: Digest = mount.parse().map_err(berth_registry::RegistryError::from)?;
        let from: Option<RepoName> = query
            .get("from")
            .map(str::parse)
            .transpose()
            .map_err(berth_registry::RegistryError::from)?;
        return Ok(
            match registry.mount_blob(repo, &digest, from.as_ref()).await? {
                MountOutcome::Mounted => blob_created(repo, &digest),
                MountOutcome::UploadStarted(status) => {
                    session_response(StatusCode::ACCEPTED, &status)
                }
            },
        );
    }
    if let Some(digest) = query.get("digest") {
        let digest: Digest = digest
            .parse()
            .map_err(berth_registry::RegistryError::from)?;
        registry
            .upload_monolithic(repo, &digest, content_length(headers), body_stream(body))
            .await?;
        return Ok(blob_created(repo, &digest));
    }
    let status = registry.start_upload(repo).await?;
    Ok(session_response(StatusCode::ACCEPTED, &status))
}

pub async fn status(
    registry: &Registry,
    repo: &RepoName,
    id: &UploadId,
) -> Result<Response, ApiError> {
    let status = registry.upload_status(repo, id).await?;
    Ok(session_response(StatusCode::NO_CONTENT, &status))
}

pub async fn patch(
    registry: &Registry,
    repo: &RepoName,
    id: &UploadId,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bounds = chunk_bounds(headers)?;
    let status = registry
        .append_chunk(repo, id, bounds, body_stream(body))
        .await?;
    Ok(session_response(StatusCode::ACCEPTED, &status))
}

pub async fn finish(
    registry: &Registry,
    repo: &RepoName,
    id: &UploadId,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let digest: Digest = query
        .get("digest")
        .ok_or(RequestError::DigestMissing)?
        .parse()
        .map_err(berth_registry::RegistryError::from)?;
    let bounds = chunk_bounds(headers)?;
    let final_chunk = (content_length(headers) != Some(0)).then(|| body_stream(body));
    registry
        .finish_upload(repo, id, &digest, bounds, final_chunk)
        .await?;
    Ok(blob_created(repo, &digest))
}

pub async fn cancel(
    registry: &Registry,
    repo: &RepoName,
    id: &UploadId,
) -> Result<Response, ApiError> {
    registry.cancel_upload(repo, id).await?;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .expect("valid response"))
}
