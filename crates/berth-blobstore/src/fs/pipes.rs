//! Blocking file I/O on dedicated threads, joined to async code by bounded channels.
//!
//! Reads go straight into the buffers handed to the network, in large chunks. Writes run
//! beside the request that streams them (which hashes meanwhile), and start disk writeback
//! as the file grows, so that the fsync that makes a blob durable finds little left to do.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::thread::JoinHandle;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{BlobStoreError, Result};
use crate::store::ByteStream;

/// Size of each read when streaming a blob; small reads cost an order of magnitude in throughput.
const READ_CHUNK: usize = 4 * 1024 * 1024;
/// Read-ahead: chunks read but not yet sent to the client.
const READ_QUEUE: usize = 4;
/// Received chunks waiting for the writer.
const WRITE_QUEUE: usize = 16;
/// Bytes written between two writeback kicks.
const WRITEBACK_EVERY: u64 = 64 * 1024 * 1024;

/// Streams `len` bytes of `file` from `start` (which the caller checked against its size).
pub fn read_range(mut file: File, start: u64, len: u64) -> ByteStream {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(READ_QUEUE);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = file.seek(SeekFrom::Start(start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut remaining = len;
        while remaining > 0 {
            // `read_to_end` fills the vector's spare capacity without zeroing it first.
            let want = READ_CHUNK.min(remaining as usize);
            let mut buffer = Vec::with_capacity(want);
            let chunk = match (&mut file).take(want as u64).read_to_end(&mut buffer) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob shorter than its size",
                )),
                Ok(n) => {
                    remaining -= n as u64;
                    Ok(Bytes::from(buffer))
                }
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            // A closed channel means the client went away: stop reading.
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Appends `body` to the file at `path`, which must be `offset` bytes long. Returns the new
/// length; on a body error the bytes received before it stay appended.
pub async fn append(path: PathBuf, offset: u64, mut body: ByteStream) -> Result<u64> {
    let (tx, rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    let writer = tokio::task::spawn_blocking(move || write_all(path, offset, rx));
    let mut body_error = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            // A closed channel means the writer failed; its error is reported below.
            Ok(bytes) => {
                if tx.send(bytes).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                body_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let len = writer
        .await
        .map_err(|e| BlobStoreError::Io(io::Error::other(e)))??;
    match body_error {
        Some(e) => Err(BlobStoreError::Body(e)),
        None => Ok(len),
    }
}

fn write_all(path: PathBuf, offset: u64, mut rx: mpsc::Receiver<Bytes>) -> Result<u64> {
    let mut file = match OpenOptions::new().append(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(BlobStoreError::UploadNotFound)
        }
        Err(e) => return Err(e.into()),
    };
    let actual = file.metadata()?.len();
    if actual != offset {
        return Err(BlobStoreError::OffsetMismatch {
            expected: offset,
            actual,
        });
    }
    let mut len = offset;
    let mut writeback: Option<JoinHandle<io::Result<()>>> = None;
    while let Some(bytes) = rx.blocking_recv() {
        file.write_all(&bytes)?;
        let before = len;
        len += bytes.len() as u64;
        // Kick writeback each time the file crosses a boundary, wherever the chunks fall.
        let crossed = len / WRITEBACK_EVERY > before / WRITEBACK_EVERY;
        if crossed && writeback.as_ref().is_none_or(|w| w.is_finished()) {
            if let Some(done) = writeback.take() {
                join_writeback(done)?;
            }
            let clone = file.try_clone()?;
            writeback = Some(std::thread::spawn(move || clone.sync_data()));
        }
    }
    // A writeback still running is left to finish on its own: committing the upload fsyncs
    // the whole file anyway, and waiting here would stall the client's next chunk.
    Ok(len)
}

fn join_writeback(handle: JoinHandle<io::Result<()>>) -> io::Result<()> {
    handle
        .join()
        .map_err(|_| io::Error::other("writeback thread panicked"))?
}
