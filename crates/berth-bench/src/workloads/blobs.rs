//! (a) monolithic upload, (b) chunked upload in PATCHes (16 MiB by default), (c) download of
//! a large blob; the uploads also as a share of the machine's ceiling measured in each round.

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

use berth_oci::Digest;

use super::{ceiling, median, timed, with_cpu, Registry};
use crate::data::random_bytes;
use crate::report::{Better, Table};
use crate::servers::Server;
use crate::Options;

const ROUNDS: u64 = 3;

/// Writes fresh random content as one file and as `chunk`-sized part files, for curl to send.
fn blob_files(
    dir: &tempfile::TempDir,
    size: usize,
    chunk: usize,
    seed: u64,
) -> anyhow::Result<(Digest, PathBuf, Vec<PathBuf>)> {
    let blob = random_bytes(size, seed);
    let digest = Digest::sha256_of(&blob);
    let whole = dir.path().join(format!("blob-{seed}"));
    std::fs::write(&whole, &blob)?;
    let mut parts = Vec::new();
    for (i, chunk) in blob.chunks(chunk).enumerate() {
        let part = dir.path().join(format!("blob-{seed}.{i:04}"));
        std::fs::write(&part, chunk)?;
        parts.push(part);
    }
    Ok((digest, whole, parts))
}

pub async fn run(servers: &[Server], table: &mut Table, options: &Options) -> anyhow::Result<()> {
    let size = options.blob_mib * 1024 * 1024;
    let chunk = options.chunk_mib * 1024 * 1024;
    let mib = options.blob_mib as f64 * 1024.0 * 1024.0 / 1e6;
    eprintln!("(a) monolithic upload of {} MiB", options.blob_mib);
    let scratch = tempfile::tempdir()?;
    let mut last_blob = None;
    let mut mono = vec![Vec::new(); servers.len()];
    let mut chunked = vec![Vec::new(); servers.len()];
    let mut ceilings = Vec::new();
    for round in 0..ROUNDS {
        // The ceiling is measured beside the uploads, in the servers' filesystem, so that it
        // sees the same machine (and the same neighbours) as they do.
        let blob = random_bytes(size, 1000 + round);
        ceilings.push(ceiling::measure(servers[0].dir(), &blob)?);
        drop(blob);
        // Fresh content each round so that no server can skip work through deduplication.
        let (digest, file, _) = blob_files(&scratch, size, chunk, 1 + round)?;
        for (i, server) in servers.iter().enumerate() {
            let registry = Registry::new(&server.base);
            let repo = format!("bench/mono{round}");
            let work = timed(registry.upload_file(&repo, &digest, &file));
            let took = with_cpu(server, table, "(a) monolithic upload", work).await;
            mono[i].push(took.with_context(|| format!("{:?}", server.kind))?);
        }
        let (digest, _, parts) = blob_files(&scratch, size, chunk, 100 + round)?;
        for (i, server) in servers.iter().enumerate() {
            let registry = Registry::new(&server.base);
            let repo = format!("bench/chunked{round}");
            let work = timed(registry.upload_parts(&repo, &digest, &parts));
            let took = with_cpu(server, table, "(b) chunked upload", work).await;
            chunked[i].push(took.with_context(|| format!("{:?}", server.kind))?);
        }
        last_blob = Some((format!("bench/chunked{round}"), digest));
    }
    let ceiling = record_ceiling(table, &ceilings, mib);
    let chunked_figure = format!(
        "(b) chunked upload ({} MiB PATCHes), median of 3",
        options.chunk_mib
    );
    for (i, server) in servers.iter().enumerate() {
        let rate = mib / median(mono[i].clone()).as_secs_f64();
        table.record(
            "(a) monolithic upload, median of 3",
            "MB/s",
            server.kind,
            rate,
            Better::Higher,
        );
        table.record(
            "(a) monolithic upload, share of the machine ceiling",
            "%",
            server.kind,
            100.0 * rate / ceiling,
            Better::Higher,
        );
        let rate = mib / median(chunked[i].clone()).as_secs_f64();
        table.record(&chunked_figure, "MB/s", server.kind, rate, Better::Higher);
        table.record(
            "(b) chunked upload, share of the machine ceiling",
            "%",
            server.kind,
            100.0 * rate / ceiling,
            Better::Higher,
        );
    }
    eprintln!("(c) blob download");
    let (repo, digest) = last_blob.expect("at least one round");
    let mut downloads = vec![Vec::new(); servers.len()];
    for _ in 0..ROUNDS {
        for (i, server) in servers.iter().enumerate() {
            let registry = Registry::new(&server.base);
            let work = timed(async {
                let received = registry.download_file(&repo, &digest)?;
                anyhow::ensure!(received == size as u64, "short download: {received} bytes");
                Ok(())
            });
            downloads[i].push(with_cpu(server, table, "(c) blob download", work).await?);
        }
    }
    for (i, server) in servers.iter().enumerate() {
        let rate = mib / median(downloads[i].clone()).as_secs_f64();
        table.record(
            "(c) blob GET, median of 3",
            "MB/s",
            server.kind,
            rate,
            Better::Higher,
        );
    }
    Ok(())
}

/// Records the medians of the ceilings and returns the slower of hashing and direct writing,
/// in MB/s: the most a verified, durable upload of `mb` megabytes could reach.
fn record_ceiling(table: &mut Table, ceilings: &[ceiling::Ceiling], mb: f64) -> f64 {
    let rate = |pick: fn(&ceiling::Ceiling) -> Duration| {
        mb / median(ceilings.iter().map(pick).collect()).as_secs_f64()
    };
    let hash = rate(|c| c.hash);
    let direct = rate(|c| c.write_direct);
    let buffered = rate(|c| c.write_buffered);
    table.machine(
        "SHA-256 of the blob (sha2, as Berth hashes), median of 3",
        "MB/s",
        hash,
    );
    table.machine(
        "write of the blob, 8 MiB O_DIRECT writes + one fsync, median of 3",
        "MB/s",
        direct,
    );
    table.machine(
        "write of the blob, 8 MiB buffered writes + one fsync, median of 3 (context)",
        "MB/s",
        buffered,
    );
    let slower = hash.min(direct);
    table.machine(
        "ceiling: the slower of hashing and direct writing",
        "MB/s",
        slower,
    );
    slower
}
