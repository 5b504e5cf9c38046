//! Hashing of an upload's bytes on a thread of its own, beside the task that receives them.
//!
//! SHA-256 is the most expensive step of an upload (about as costly per byte as the disk
//! write). Hashing each chunk inline would stop the request from reading the socket while it
//! hashes; on its own thread the hash runs in parallel with receiving and writing, and the
//! upload goes as fast as the slower of the two rather than their sum.

use std::io;

use berth_blobstore::ByteStream;
use berth_oci::DigestHasher;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Size of the buffers small body frames are gathered into. HTTP frames are often 8-400 KiB;
/// handing each small one to the hasher and the writer costs a wake-up and a system call, while
/// gathering them costs a copy of data still in cache. The buffers stay small on purpose: with
/// a few in flight the hasher and the writer read bytes from cache, where 1 MiB buffers made
/// the writer's copy into the page cache four times as expensive (measured with perf).
const GATHER: usize = 128 * 1024;
/// Buffers received but not yet hashed.
const HASH_QUEUE: usize = 8;

/// The hash of a body's bytes, computed while the body is consumed.
pub struct BodyHash {
    worker: JoinHandle<DigestHasher>,
}

impl BodyHash {
    /// The hasher after every chunk the body yielded; waits for the hashing thread to catch up.
    /// Call it once the body has been consumed (or dropped).
    pub async fn finish(self) -> io::Result<DigestHasher> {
        self.worker.await.map_err(io::Error::other)
    }
}

/// Wraps `body` so that it yields buffers of at least 128 KiB, each also fed to `hasher` on a
/// blocking thread. The body stops with an error once it exceeds `limit` bytes, so that a
/// lying `Content-Length`/`Content-Range` cannot overrun a chunk; the bytes before the error
/// are still yielded, as they would have been without gathering.
pub fn hashing_body(
    body: ByteStream,
    mut hasher: DigestHasher,
    limit: Option<u64>,
) -> (ByteStream, BodyHash) {
    let (tx, mut rx) = mpsc::channel::<Bytes>(HASH_QUEUE);
    let worker = tokio::task::spawn_blocking(move || {
        while let Some(bytes) = rx.blocking_recv() {
            hasher.update(&bytes);
        }
        hasher
    });
    let state = Feed {
        // Fused: the last gathered buffer is yielded after the body ended, and the body is
        // asked once more after it.
        body: Box::pin(body.fuse()),
        tx: Some(tx),
        seen: 0,
        limit,
        carry: Bytes::new(),
        gathered: BytesMut::new(),
        failed: None,
    };
    let stream = futures::stream::unfold(state, |mut feed| async move {
        let item = feed.next().await?;
        Some((item, feed))
    });
    (Box::pin(stream), BodyHash { worker })
}

/// The state of a hashing body.
struct Feed {
    body: ByteStream,
    /// The channel to the hasher, closed at the end of the body.
    tx: Option<mpsc::Sender<Bytes>>,
    seen: u64,
    limit: Option<u64>,
    /// The part of the last frame not yet gathered.
    carry: Bytes,
    gathered: BytesMut,
    /// An error met while bytes were still gathered: reported after them.
    failed: Option<io::Error>,
}

impl Feed {
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        loop {
            if self.carry.is_empty() {
                match self.frame().await {
                    Some(Ok(frame)) => self.carry = frame,
                    Some(Err(e)) if self.gathered.is_empty() => return Some(Err(e)),
                    Some(Err(e)) => {
                        self.failed = Some(e);
                        return Some(self.emit_gathered().await);
                    }
                    None if self.gathered.is_empty() => {
                        // The end of the body lets the hasher finish even if the consumer
                        // keeps the stream alive a little longer.
                        self.tx = None;
                        return None;
                    }
                    None => return Some(self.emit_gathered().await),
                }
            }
            // A frame as large as a buffer goes through as it is, without a copy.
            if self.gathered.is_empty() && self.carry.len() >= GATHER {
                let frame = std::mem::take(&mut self.carry);
                return Some(self.emit(frame).await);
            }
            if self.gathered.capacity() == 0 {
                self.gathered.reserve(GATHER);
            }
            let take = (GATHER - self.gathered.len()).min(self.carry.len());
            self.gathered.extend_from_slice(&self.carry.split_to(take));
            if self.gathered.len() == GATHER {
                return Some(self.emit_gathered().await);
            }
        }
    }

    /// The next frame of the body, checked against the limit.
    async fn frame(&mut self) -> Option<io::Result<Bytes>> {
        let bytes = match self.body.next().await? {
            Ok(bytes) => bytes,
            Err(e) => return Some(Err(e)),
        };
        self.seen += bytes.len() as u64;
        if self.limit.is_some_and(|l| self.seen > l) {
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "body is longer than declared",
            )));
        }
        Some(Ok(bytes))
    }

    async fn emit_gathered(&mut self) -> io::Result<Bytes> {
        let full = std::mem::take(&mut self.gathered).freeze();
        self.emit(full).await
    }

    /// Hands `bytes` to the hasher and returns them for the consumer. A clone of `Bytes`
    /// shares the buffer: the hasher and the writer read the same memory.
    async fn emit(&mut self, bytes: Bytes) -> io::Result<Bytes> {
        let Some(tx) = self.tx.as_ref() else {
            return Err(io::Error::other("body read after its end"));
        };
        if tx.send(bytes.clone()).await.is_err() {
            return Err(io::Error::other("the hashing thread stopped"));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_oci::{Algorithm, Digest};

    fn frames(sizes: &[usize]) -> (Vec<u8>, ByteStream) {
        let mut all = Vec::new();
        let mut parts = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let part: Vec<u8> = (0..*size).map(|n| (n * 7 + i) as u8).collect();
            all.extend_from_slice(&part);
            parts.push(Ok(Bytes::from(part)));
        }
        (all, Box::pin(futures::stream::iter(parts)))
    }

    #[tokio::test]
    async fn gathers_every_byte_in_order_and_hashes_them() {
        let (all, body) = frames(&[3, 2 * GATHER + 5, 10, GATHER - 1, 1]);
        let (mut out, hash) = hashing_body(body, Algorithm::Sha256.hasher(), None);
        let mut received = Vec::new();
        while let Some(chunk) = out.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= 2 * GATHER + 5);
            received.extend_from_slice(&chunk);
        }
        drop(out);
        assert_eq!(received, all);
        assert_eq!(
            hash.finish().await.unwrap().finish(),
            Digest::sha256_of(&all)
        );
    }

    #[tokio::test]
    async fn bytes_before_an_overrun_come_before_its_error() {
        let (all, body) = frames(&[100, 100]);
        let (mut out, _hash) = hashing_body(body, Algorithm::Sha256.hasher(), Some(150));
        assert_eq!(out.next().await.unwrap().unwrap(), &all[..100]);
        assert!(out.next().await.unwrap().is_err());
    }
}
