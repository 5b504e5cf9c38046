//! One table of every error and the (status, code) it is answered with.

use berth_oci::Digest;

use super::*;

#[test]
fn every_error_maps_to_its_status_and_code() {
    let d = || Digest::sha256_of(b"x");
    let io = || std::io::Error::other("disk");
    let table: Vec<(ApiError, u16, &str)> = vec![
        (EndpointError::NotFound.into(), 404, "UNSUPPORTED"),
        (
            EndpointError::UploadIdInvalid.into(),
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            EndpointError::Invalid(OciError::NameInvalid("A".into())).into(),
            400,
            "NAME_INVALID",
        ),
        (
            EndpointError::Invalid(OciError::DigestInvalid("x".into())).into(),
            400,
            "DIGEST_INVALID",
        ),
        (
            EndpointError::Invalid(OciError::DigestAlgorithmUnsupported("md5".into())).into(),
            400,
            "DIGEST_INVALID",
        ),
        (
            EndpointError::Invalid(OciError::TagInvalid("-".into())).into(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            EndpointError::Invalid(OciError::ReferenceInvalid("".into())).into(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            RequestError::MethodNotAllowed { allow: "GET, HEAD" }.into(),
            405,
            "UNSUPPORTED",
        ),
        (RequestError::DigestMissing.into(), 400, "DIGEST_INVALID"),
        (
            RequestError::QueryInvalid {
                name: "n",
                reason: "x".into(),
            }
            .into(),
            400,
            "UNSUPPORTED",
        ),
        (
            RequestError::ContentRangeInvalid("x".into()).into(),
            400,
            "BLOB_UPLOAD_INVALID",
        ),
        (
            RequestError::LengthMismatch {
                content_length: 1,
                range_length: 2,
            }
            .into(),
            400,
            "SIZE_INVALID",
        ),
        (
            RequestError::ManifestTooLarge { limit: 1 }.into(),
            413,
            "MANIFEST_INVALID",
        ),
        (
            RequestError::ManifestBodyUnreadable.into(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            RegistryError::NameUnknown("a".parse().unwrap()).into(),
            404,
            "NAME_UNKNOWN",
        ),
        (RegistryError::BlobUnknown(d()).into(), 404, "BLOB_UNKNOWN"),
        (
            RegistryError::UploadUnknown.into(),
            404,
            "BLOB_UPLOAD_UNKNOWN",
        ),
        (
            RegistryError::ChunkOutOfOrder { current: 3 }.into(),
            416,
            "BLOB_UPLOAD_INVALID",
        ),
        (
            RegistryError::UploadInvalid("x".into()).into(),
            400,
            "BLOB_UPLOAD_INVALID",
        ),
        (
            RegistryError::SizeInvalid("x".into()).into(),
            400,
            "SIZE_INVALID",
        ),
        (
            RegistryError::DigestMismatch {
                expected: d(),
                actual: d(),
            }
            .into(),
            400,
            "DIGEST_INVALID",
        ),
        (
            RegistryError::RangeNotSatisfiable { size: 1 }.into(),
            416,
            "BLOB_UNKNOWN",
        ),
        (
            RegistryError::ManifestUnknown("v1".into()).into(),
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            RegistryError::ManifestBlobUnknown(d()).into(),
            400,
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            RegistryError::ManifestTooLarge { limit: 1 }.into(),
            413,
            "MANIFEST_INVALID",
        ),
        (
            RegistryError::Oci(OciError::ManifestInvalid("x".into())).into(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            RegistryError::Oci(OciError::ManifestUnsupported("x".into())).into(),
            400,
            "UNSUPPORTED",
        ),
        (
            RegistryError::Storage(BlobStoreError::Io(io())).into(),
            500,
            "UNKNOWN",
        ),
        (
            RegistryError::Storage(BlobStoreError::BlobNotFound).into(),
            500,
            "UNKNOWN",
        ),
        (
            RegistryError::Metadata(MetadataError::Corrupt("x".into())).into(),
            500,
            "UNKNOWN",
        ),
        (
            RegistryError::Metadata(MetadataError::CommitFailed("disk full".into())).into(),
            500,
            "UNKNOWN",
        ),
    ];
    for (error, status, code) in table {
        let reply = error.reply();
        assert_eq!(
            (reply.status.as_u16(), reply.code),
            (status, code),
            "{error:?}"
        );
        assert!(!reply.message.is_empty());
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
fn out_of_order_chunks_report_the_current_range() {
    let error: ApiError = RegistryError::ChunkOutOfOrder { current: 10 }.into();
    assert_eq!(error.reply().upload_range.as_deref(), Some("0-9"));
    assert_eq!(range_header(0), "0-0");
}
