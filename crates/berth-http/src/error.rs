//! The one place where errors become HTTP responses: status, OCI error code, message, headers.

use axum::response::{IntoResponse, Response};
use berth_auth::AuthError;
use berth_blobstore::BlobStoreError;
use berth_metadata::MetadataError;
use berth_oci::OciError;
use berth_registry::RegistryError;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;
use tracing::error;

use crate::endpoint::EndpointError;

/// A problem with the request itself, found by the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("method not allowed on this endpoint; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error("the digest query parameter is required")]
    DigestMissing,
    #[error("invalid query parameter {name}: {reason}")]
    QueryInvalid { name: &'static str, reason: String },
    #[error("unknown query parameter {name:?}; this endpoint takes {known}")]
    QueryUnknown { name: String, known: String },
    #[error("invalid Content-Range {0:?}: expected <start>-<end>")]
    ContentRangeInvalid(String),
    #[error("Content-Length {content_length} does not match Content-Range length {range_length}")]
    LengthMismatch {
        content_length: u64,
        range_length: u64,
    },
    #[error("manifest body exceeds {limit} bytes")]
    ManifestTooLarge { limit: usize },
    #[error("reading the manifest body failed")]
    ManifestBodyUnreadable,
    #[error("no garbage collection has finished since the registry started")]
    NoCollectionYet,
    /// A conditional date header that cannot be read: a write must not proceed as if it had
    /// none.
    #[error(
        "malformed {0} header: expected an HTTP date such as \"Sun, 06 Nov 1994 08:49:37 GMT\""
    )]
    ConditionInvalid(String),
}

/// A request that authorization refused. Messages never contain credentials or tokens.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// Anonymous, wrong credentials, or an invalid token: logging in (again) may help.
    /// `challenge` is the `WWW-Authenticate` value.
    #[error("authentication required")]
    Unauthenticated { challenge: String },
    /// A valid token that does not grant what the request needs: 403 as RFC 6750 (3.1) says,
    /// with `error="insufficient_scope"` in a challenge that names the scope to ask for. The
    /// 403 is what makes clients that hold one token at a time (the ORAS Python SDK) fetch a
    /// wider one; clients that ask for every scope up front never see it.
    #[error("the token does not grant the access this request needs")]
    InsufficientScope { challenge: String },
    /// An authenticated user the policy does not allow.
    #[error("requested access to the resource is denied")]
    Denied,
    /// Too many failed logins for this user from this client.
    #[error("too many failed login attempts; try again later")]
    TooManyAttempts { retry_after: std::time::Duration },
    /// The token endpoint was asked by a client that cannot have a token for this service.
    #[error("the token endpoint is not configured on this server")]
    NoTokenService,
    /// A refused scope, refresh token or an internal failure of the auth layer.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// Every error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Auth(#[from] AuthFailure),
}

/// How an error is answered.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorReply {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Range` to send with a 416 on an upload: the bytes received so far.
    pub upload_range: Option<String>,
    /// `Allow` to send with a 405: the methods the endpoint answers.
    pub allow: Option<&'static str>,
    /// `Content-Range` to send with a 416 on a blob read: `bytes */<size>` (RFC 9110 15.5.17).
    pub content_range: Option<String>,
    /// `WWW-Authenticate` to send with a 401.
    pub challenge: Option<String>,
    /// `Retry-After` (seconds) to send with a 429.
    pub retry_after: Option<u64>,
}

fn reply(status: StatusCode, code: &'static str, message: impl ToString) -> ErrorReply {
    ErrorReply {
        status,
        code,
        message: message.to_string(),
        upload_range: None,
        allow: None,
        content_range: None,
        challenge: None,
        retry_after: None,
    }
}

/// Internal causes are logged and never sent to the client.
fn internal(cause: &dyn std::fmt::Display) -> ErrorReply {
    error!(error = %cause, "internal error");
    reply(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN",
        "internal server error",
    )
}

fn oci_reply(e: &OciError) -> ErrorReply {
    let status = StatusCode::BAD_REQUEST;
    match e {
        OciError::DigestInvalid(_) | OciError::DigestAlgorithmUnsupported(_) => {
            reply(status, "DIGEST_INVALID", e)
        }
        OciError::NameInvalid(..) => reply(status, "NAME_INVALID", e),
        OciError::TagInvalid(_) | OciError::ReferenceInvalid(_) => {
            reply(status, "MANIFEST_INVALID", e)
        }
        OciError::ManifestInvalid(_) => reply(status, "MANIFEST_INVALID", e),
        OciError::ManifestUnsupported(_) => reply(status, "UNSUPPORTED", e),
    }
}

impl ApiError {
    /// The single mapping from every error to its reply.
    pub fn reply(&self) -> ErrorReply {
        match self {
            ApiError::Endpoint(e) => match e {
                EndpointError::NotFound => {
                    reply(StatusCode::NOT_FOUND, "UNSUPPORTED", "no such endpoint")
                }
                EndpointError::Invalid(oci) => oci_reply(oci),
                EndpointError::UploadIdInvalid => {
                    reply(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", e)
                }
            },
            ApiError::Request(e) => match e {
                RequestError::MethodNotAllowed { allow } => ErrorReply {
                    allow: Some(allow),
                    ..reply(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", e)
                },
                RequestError::DigestMissing => reply(StatusCode::BAD_REQUEST, "DIGEST_INVALID", e),
                RequestError::QueryInvalid { .. } | RequestError::QueryUnknown { .. } => {
                    reply(StatusCode::BAD_REQUEST, "UNSUPPORTED", e)
                }
                RequestError::ContentRangeInvalid(_) => {
                    reply(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", e)
                }
                RequestError::LengthMismatch { .. } => {
                    reply(StatusCode::BAD_REQUEST, "SIZE_INVALID", e)
                }
                RequestError::ManifestTooLarge { .. } => {
                    reply(StatusCode::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID", e)
                }
                RequestError::ManifestBodyUnreadable => {
                    reply(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", e)
                }
                RequestError::NoCollectionYet => reply(StatusCode::NOT_FOUND, "NOT_FOUND", e),
                RequestError::ConditionInvalid(_) => {
                    reply(StatusCode::BAD_REQUEST, "UNSUPPORTED", e)
                }
            },
            ApiError::Registry(e) => registry_reply(e),
            ApiError::Auth(e) => auth_reply(e),
        }
    }
}

fn auth_reply(e: &AuthFailure) -> ErrorReply {
    match e {
        AuthFailure::Unauthenticated { challenge } => ErrorReply {
            challenge: Some(challenge.clone()),
            ..reply(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", e)
        },
        AuthFailure::InsufficientScope { challenge } => ErrorReply {
            challenge: Some(challenge.clone()),
            ..reply(StatusCode::FORBIDDEN, "DENIED", e)
        },
        AuthFailure::Denied => reply(StatusCode::FORBIDDEN, "DENIED", e),
        AuthFailure::TooManyAttempts { retry_after } => ErrorReply {
            retry_after: Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            ..reply(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", e)
        },
        AuthFailure::NoTokenService => reply(StatusCode::NOT_FOUND, "UNSUPPORTED", e),
        AuthFailure::Auth(auth) => match auth {
            AuthError::InvalidScope { .. } => reply(StatusCode::BAD_REQUEST, "UNSUPPORTED", auth),
            // The reason is for the log; the client only learns that the token is invalid.
            AuthError::InvalidToken(reason) => {
                tracing::info!(%reason, "token refused");
                reply(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "invalid token")
            }
            AuthError::HtpasswdMalformed { .. }
            | AuthError::HtpasswdUnsupportedHash { .. }
            | AuthError::Config(_)
            | AuthError::Key { .. }
            | AuthError::Io { .. }
            | AuthError::Signing(_) => internal(auth),
        },
    }
}

fn registry_reply(e: &RegistryError) -> ErrorReply {
    match e {
        RegistryError::NameUnknown(_) => reply(StatusCode::NOT_FOUND, "NAME_UNKNOWN", e),
        RegistryError::BlobUnknown(_) => reply(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", e),
        RegistryError::UploadUnknown => reply(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", e),
        RegistryError::ChunkOutOfOrder { current } => ErrorReply {
            upload_range: Some(range_header(*current)),
            ..reply(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID", e)
        },
        RegistryError::UploadInvalid(_) => reply(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", e),
        RegistryError::SizeInvalid(_) => reply(StatusCode::BAD_REQUEST, "SIZE_INVALID", e),
        RegistryError::DigestMismatch { .. } => reply(StatusCode::BAD_REQUEST, "DIGEST_INVALID", e),
        // The blob exists; the requested range lies outside it.
        RegistryError::RangeNotSatisfiable { size } => ErrorReply {
            content_range: Some(format!("bytes */{size}")),
            ..reply(StatusCode::RANGE_NOT_SATISFIABLE, "SIZE_INVALID", e)
        },
        RegistryError::ManifestUnknown(_) => reply(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", e),
        RegistryError::ManifestBlobUnknown(_) => {
            reply(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN", e)
        }
        RegistryError::ManifestTooLarge { .. } => {
            reply(StatusCode::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID", e)
        }
        RegistryError::SubjectUnknown(_) => {
            reply(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN", e)
        }
        // The spec's codes have none for a failed condition; the write was refused.
        RegistryError::PreconditionFailed(_) => reply(StatusCode::PRECONDITION_FAILED, "DENIED", e),
        RegistryError::Oci(oci) => oci_reply(oci),
        RegistryError::Storage(storage) => match storage {
            BlobStoreError::BlobNotFound
            | BlobStoreError::UploadNotFound
            | BlobStoreError::OffsetMismatch { .. }
            | BlobStoreError::UploadChanged(_)
            | BlobStoreError::RangeNotSatisfiable { .. }
            | BlobStoreError::Body(_)
            | BlobStoreError::Io(_) => internal(storage),
        },
        RegistryError::Metadata(meta) => match meta {
            MetadataError::MissingBlob(_)
            | MetadataError::MissingChild(_)
            | MetadataError::MissingSubject(_)
            | MetadataError::PreconditionFailed(_)
            | MetadataError::Corrupt(_)
            | MetadataError::CommitFailed(_)
            | MetadataError::NotReady(_)
            | MetadataError::Write(_)
            | MetadataError::Database(_) => internal(meta),
        },
    }
}

/// `Range: 0-<last byte>` as distribution clients expect it (`0-0` for an empty upload).
pub fn range_header(len: u64) -> String {
    format!("0-{}", len.saturating_sub(1))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errors: [ErrorEntry<'a>; 1],
}

#[derive(Serialize)]
struct ErrorEntry<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let reply = self.reply();
        let body = ErrorBody {
            errors: [ErrorEntry {
                code: reply.code,
                message: &reply.message,
            }],
        };
        let json = serde_json::to_vec(&body).expect("error body serialises");
        let mut response = (reply.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(range) = reply
            .upload_range
            .and_then(|r| HeaderValue::from_str(&r).ok())
        {
            headers.insert(header::RANGE, range);
        }
        if let Some(allow) = reply.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(range) = reply
            .content_range
            .and_then(|r| HeaderValue::from_str(&r).ok())
        {
            headers.insert(header::CONTENT_RANGE, range);
        }
        if let Some(challenge) = reply.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = reply.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests;
