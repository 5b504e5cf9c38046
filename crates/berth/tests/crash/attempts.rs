//! The record of what the clients attempted before a kill, which the checks after the restart
//! hold the registry to.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::support::http::{digest_of, Image};

pub const KIB: usize = 1024;
pub const MIB: usize = 1024 * 1024;

/// One blob push, recorded before it starts and updated as it progresses.
#[derive(Debug, Clone)]
pub struct BlobAttempt {
    pub round: usize,
    pub repo: String,
    pub data: Bytes,
    pub digest: String,
    pub chunked: bool,
    /// The session URL, once the server has answered the POST.
    pub location: Option<String>,
    /// The server answered 201.
    pub completed: bool,
}

impl BlobAttempt {
    /// Records the push of `data` before its first request, so that a kill at any moment
    /// finds it listed; returns its index in `log`.
    pub fn record(
        log: &Log<BlobAttempt>,
        round: usize,
        repo: &str,
        data: &Bytes,
        chunked: bool,
    ) -> usize {
        record(
            log,
            BlobAttempt {
                round,
                repo: repo.to_owned(),
                data: data.clone(),
                digest: digest_of(data),
                chunked,
                location: None,
                completed: false,
            },
        )
    }
}

/// One image push (blobs, then the manifest by tag).
#[derive(Debug, Clone)]
pub struct ManifestAttempt {
    pub image: Image,
    /// The server answered 201 to the manifest PUT.
    pub completed: bool,
}

/// Shared by the clients of every round, which update their entries as answers arrive.
pub type Log<T> = Arc<Mutex<Vec<T>>>;

pub fn record<T>(log: &Log<T>, item: T) -> usize {
    let mut log = log.lock().unwrap();
    log.push(item);
    log.len() - 1
}

/// A copy of the log as it stands, for checks that await between entries.
pub fn snapshot<T: Clone>(log: &Log<T>) -> Vec<T> {
    log.lock().unwrap().clone()
}
