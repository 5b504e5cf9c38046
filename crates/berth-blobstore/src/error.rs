//! The one error type of the blob storage layer.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum BlobStoreError {
    #[error("blob not found")]
    BlobNotFound,
    #[error("upload not found")]
    UploadNotFound,
    #[error("upload is {actual} bytes long, append expected it at offset {expected}")]
    OffsetMismatch { expected: u64, actual: u64 },
    /// The staged bytes a commit read are not the ones the caller verified: an append (from
    /// another node, which takes no lock while its body streams) landed in between.
    #[error("the upload changed while it was committed: {0}")]
    UploadChanged(String),
    #[error("range {start}-{end} is outside the blob of {size} bytes")]
    RangeNotSatisfiable { start: u64, end: u64, size: u64 },
    /// The body being appended failed (client went away, length mismatch); nothing is lost.
    #[error("reading the request body failed: {0}")]
    Body(#[source] io::Error),
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
}

pub type Result<T, E = BlobStoreError> = std::result::Result<T, E>;
