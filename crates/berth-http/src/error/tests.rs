//! One table of every error and the (status, code) it is answered with.

use berth_auth::TokenRejection;
use berth_oci::Digest;

use super::*;

#[test]
fn every_error_maps_to_its_status_and_code() {
    let d = || Digest::sha256_of(b"x");
    let x = || "x".to_owned();
    let invalid = |e: OciError| ApiError::from(EndpointError::Invalid(e));
    let storage = |e: BlobStoreError| ApiError::from(RegistryError::Storage(e));
    let metadata = |e: MetadataError| ApiError::from(RegistryError::Metadata(e));
    let auth = |e: AuthError| ApiError::from(AuthFailure::Auth(e));
    // Grouped by the (status, code) every error of a group is answered with.
    let table: Vec<(u16, &str, Vec<ApiError>)> = vec![
        (
            400,
            "BLOB_UPLOAD_INVALID",
            vec![
                RequestError::ContentRangeInvalid(x()).into(),
                RegistryError::UploadInvalid(x()).into(),
            ],
        ),
        (
            400,
            "DIGEST_INVALID",
            vec![
                invalid(OciError::DigestInvalid(x())),
                invalid(OciError::DigestAlgorithmUnsupported("md5".into())),
                RequestError::DigestMissing.into(),
                RegistryError::DigestMismatch {
                    expected: d(),
                    actual: d(),
                }
                .into(),
            ],
        ),
        (
            400,
            "MANIFEST_BLOB_UNKNOWN",
            vec![
                RegistryError::ManifestBlobUnknown(d()).into(),
                RegistryError::SubjectUnknown(d()).into(),
            ],
        ),
        (
            400,
            "MANIFEST_INVALID",
            vec![
                invalid(OciError::TagInvalid("-".into())),
                invalid(OciError::ReferenceInvalid("".into())),
                RequestError::ManifestBodyUnreadable.into(),
                RegistryError::Oci(OciError::ManifestInvalid(x())).into(),
            ],
        ),
        (
            400,
            "NAME_INVALID",
            vec![invalid(OciError::NameInvalid(
                "A".into(),
                "upper case".into(),
            ))],
        ),
        (
            400,
            "SIZE_INVALID",
            vec![
                RequestError::LengthMismatch {
                    content_length: 1,
                    range_length: 2,
                }
                .into(),
                RegistryError::SizeInvalid(x()).into(),
            ],
        ),
        (
            400,
            "UNSUPPORTED",
            vec![
                RequestError::QueryInvalid {
                    name: "n",
                    reason: x(),
                }
                .into(),
                RequestError::QueryUnknown {
                    name: "untaged".into(),
                    known: x(),
                }
                .into(),
                RegistryError::Oci(OciError::ManifestUnsupported(x())).into(),
                RequestError::ConditionInvalid("if-match".into()).into(),
            ],
        ),
        (
            404,
            "BLOB_UNKNOWN",
            vec![RegistryError::BlobUnknown(d()).into()],
        ),
        (
            404,
            "BLOB_UPLOAD_UNKNOWN",
            vec![
                EndpointError::UploadIdInvalid.into(),
                RegistryError::UploadUnknown.into(),
            ],
        ),
        (
            404,
            "MANIFEST_UNKNOWN",
            vec![RegistryError::ManifestUnknown("v1".into()).into()],
        ),
        (
            404,
            "NAME_UNKNOWN",
            vec![RegistryError::NameUnknown("a".parse().unwrap()).into()],
        ),
        (
            400,
            "UNSUPPORTED",
            vec![auth(AuthError::InvalidScope {
                scope: x(),
                problem: x(),
            })],
        ),
        (
            401,
            "UNAUTHORIZED",
            vec![
                AuthFailure::Unauthenticated { challenge: x() }.into(),
                auth(AuthError::InvalidToken(TokenRejection::Expired)),
            ],
        ),
        (
            403,
            "DENIED",
            vec![
                AuthFailure::Denied.into(),
                AuthFailure::InsufficientScope { challenge: x() }.into(),
            ],
        ),
        (
            429,
            "TOOMANYREQUESTS",
            vec![AuthFailure::TooManyAttempts {
                retry_after: std::time::Duration::from_millis(1500),
            }
            .into()],
        ),
        (
            404,
            "UNSUPPORTED",
            vec![
                EndpointError::NotFound.into(),
                AuthFailure::NoTokenService.into(),
            ],
        ),
        (404, "NOT_FOUND", vec![RequestError::NoCollectionYet.into()]),
        (
            405,
            "UNSUPPORTED",
            vec![RequestError::MethodNotAllowed { allow: "GET, HEAD" }.into()],
        ),
        (
            412,
            "DENIED",
            vec![RegistryError::PreconditionFailed("v1".into()).into()],
        ),
        (
            413,
            "MANIFEST_INVALID",
            vec![
                RequestError::ManifestTooLarge { limit: 1 }.into(),
                RegistryError::ManifestTooLarge { limit: 1 }.into(),
            ],
        ),
        (
            416,
            "SIZE_INVALID",
            vec![RegistryError::RangeNotSatisfiable { size: 1 }.into()],
        ),
        (
            416,
            "BLOB_UPLOAD_INVALID",
            vec![RegistryError::ChunkOutOfOrder { current: 3 }.into()],
        ),
        (
            500,
            "UNKNOWN",
            vec![
                storage(BlobStoreError::Io(std::io::Error::other("disk"))),
                storage(BlobStoreError::BlobNotFound),
                metadata(MetadataError::Corrupt(x())),
                metadata(MetadataError::CommitFailed("disk full".into())),
                metadata(MetadataError::MissingSubject(d())),
                metadata(MetadataError::PreconditionFailed(x())),
                auth(AuthError::Config(x())),
                auth(AuthError::Signing(x())),
            ],
        ),
    ];
    for (status, code, errors) in table {
        for error in errors {
            let reply = error.reply();
            assert_eq!(
                (reply.status.as_u16(), reply.code),
                (status, code),
                "{error:?}"
            );
            assert!(!reply.message.is_empty());
        }
    }
}

#[test]
fn internal_causes_are_not_sent_to_clients() {
    let secret = "/var/lib/berth/blobs/sha256/ab permission denied";
    let error: ApiError =
        RegistryError::Storage(BlobStoreError::Io(std::io::Error::other(secret))).into();
    assert_eq!(error.reply().message, "internal server error");
}

#[test]
fn unsatisfiable_ranges_report_the_size() {
    let error: ApiError = RegistryError::RangeNotSatisfiable { size: 10 }.into();
    assert_eq!(error.reply().content_range.as_deref(), Some("bytes */10"));
}

#[test]
fn out_of_order_chunks_report_the_current_range() {
    let error: ApiError = RegistryError::ChunkOutOfOrder { current: 10 }.into();
    assert_eq!(error.reply().upload_range.as_deref(), Some("0-9"));
    assert_eq!(range_header(0), "0-0");
}

#[test]
fn auth_failures_carry_their_challenge_and_retry_after() {
    let challenge = "Bearer realm=\"r\",service=\"s\"".to_owned();
    let error: ApiError = AuthFailure::Unauthenticated {
        challenge: challenge.clone(),
    }
    .into();
    assert_eq!(error.reply().challenge, Some(challenge));
    let error: ApiError = AuthFailure::TooManyAttempts {
        retry_after: std::time::Duration::from_millis(1500),
    }
    .into();
    assert_eq!(error.reply().retry_after, Some(2));
    let error: ApiError =
        AuthFailure::Auth(AuthError::InvalidToken(TokenRejection::BadSignature)).into();
    assert_eq!(error.reply().message, "invalid token");
}
