//! The machine's ceiling for a durable, verified upload, measured in the same run as the
//! uploads: how fast this CPU hashes with the hashing Berth uses, and how fast the data
//! directory's filesystem takes large writes ending in one fsync. An upload can go no faster
//! than the slower of the two, so upload rates are also reported as a share of it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_oci::Algorithm;
use bytes::Bytes;

/// Size of each write: large enough that per-call costs vanish.
const WRITE_SIZE: usize = 8 * 1024 * 1024;
/// Direct I/O wants buffers, offsets and lengths aligned to the logical block size; 4 KiB
/// covers every common device.
const DIRECT_ALIGN: usize = 4096;

/// One measurement of each ceiling, as durations for the same number of bytes.
pub struct Ceiling {
    pub hash: Duration,
    pub write_direct: Duration,
    pub write_buffered: Duration,
}

/// Hashes `blob` with Berth's SHA-256 (the `sha2` crate, which picks the CPU's SHA extensions
/// at run time), in 1 MiB updates as a stream would feed it.
pub fn hash_time(blob: &Bytes) -> Duration {
    let started = Instant::now();
    let mut hasher = Algorithm::Sha256.hasher();
    for piece in blob.chunks(1024 * 1024) {
        hasher.update(piece);
    }
    std::hint::black_box(hasher.finish());
    started.elapsed()
}

/// Writes `len` bytes of `blob` to a new file in `dir` in 8 MiB writes, then fsyncs it once;
/// `direct` bypasses the page cache (`O_DIRECT`). The file is removed afterwards. Calls `sync`
/// first, as every timed upload does.
pub fn write_time(dir: &Path, blob: &Bytes, direct: bool) -> anyhow::Result<Duration> {
    std::process::Command::new("sync").status()?;
    let path = dir.join(if direct {
        "ceiling-direct"
    } else {
        "ceiling-buffered"
    });
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    // An aligned window inside a slightly larger allocation: direct I/O rejects unaligned
    // buffers, and finding the window needs no unsafe code.
    let mut backing = vec![0u8; WRITE_SIZE + DIRECT_ALIGN];
    let skip = backing.as_ptr().align_offset(DIRECT_ALIGN);
    let buffer = &mut backing[skip..skip + WRITE_SIZE];
    let started = Instant::now();
    let mut file = options.open(&path)?;
    for piece in blob.chunks(WRITE_SIZE) {
        // A copy per write, as a server copies each received buffer; it also keeps the
        // direct writes' source aligned.
        buffer[..piece.len()].copy_from_slice(piece);
        anyhow::ensure!(
            !direct || piece.len() % DIRECT_ALIGN == 0,
            "direct writes need a size that is a multiple of {DIRECT_ALIGN}"
        );
        file.write_all(&buffer[..piece.len()])?;
    }
    file.sync_all()?;
    let elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(elapsed)
}

/// Measures both ceilings once for `blob`, writing into `dir`.
pub fn measure(dir: &Path, blob: &Bytes) -> anyhow::Result<Ceiling> {
    Ok(Ceiling {
        hash: hash_time(blob),
        write_direct: write_time(dir, blob, true)?,
        write_buffered: write_time(dir, blob, false)?,
    })
}
