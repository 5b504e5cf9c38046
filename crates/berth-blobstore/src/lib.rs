//! Blob storage: one object-safe trait, `BlobStore`, and its backends.
//!
//! A store holds two kinds of object: committed blobs, named by digest and immutable, and
//! upload staging objects, named by upload id, which grow by appends until they are
//! committed (made visible under a digest) or deleted. The store never hashes: callers
//! verify content before they commit it.

mod error;
#[cfg(feature = "fs")]
pub mod fs;
#[cfg(feature = "s3")]
pub mod s3;
mod store;
#[cfg(any(test, feature = "test-suite"))]
pub mod suite;

pub use error::BlobStoreError;
pub use store::{BlobListing, BlobStore, ByteRange, ByteStream};
