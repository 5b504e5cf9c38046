//! (a) monolithic upload, (b) chunked upload in 16 MiB PATCHes, (c) download of a large blob.

use std::path::PathBuf;

use berth_oci::Digest;

use super::{median, timed, with_cpu, Registry};
use crate::data::random_bytes;
use crate::report::{Better, Table};
use crate::servers::Server;
use crate::Options;

const CHUNK: usize = 16 * 1024 * 1024;
const ROUNDS: u64 = 3;

/// Writes fresh random content as one file and as 16 MiB part files, for curl to send.
fn blob_files(
    dir: &tempfile::TempDir,
    size: usize,
    seed: u64,
) -> anyhow::Result<(Digest, PathBuf, Vec<PathBuf>)> {
    let blob = random_bytes(size, seed);
    let digest = Digest::sha256_of(&blob);
    let whole = dir.path().join(format!("blob-{seed}"));
    std::fs::write(&whole, &blob)?;
    let mut parts = Vec::new();
    for (i, chunk) in blob.chunks(CHUNK).enumerate() {
        let part = dir.path().join(format!("blob-{seed}.{i:04}"));
        std::fs::write(&part, chunk)?;
        parts.push(part);
    }
    Ok((digest, whole, parts))
}

pub async fn run(servers: &[Server], table: &mut Table, options: &Options) -> anyhow::Result<()> {
    let size = options.blob_mib * 1024 * 1024;
    let mib = options.blob_mib as f64 * 1024.0 * 1024.0 / 1e6;
    eprintln!("(a) monolithic upload of {} MiB", options.blob_mib);
    let scratch = tempfile::tempdir()?;
    let mut last_blob = None;
    let mut mono = vec![Vec::new(); servers.len()];
    let mut chunked = vec![Vec::new(); servers.len()];
    for round in 0..ROUNDS {
        // Fresh content each round so that no server can skip work through deduplication.
        let (digest, file, _) = blob_files(&scratch, size, 1 + round)?;
        for (i, server) in servers.iter().enumerate() {
            let registry = Registry::new(&server.base);
            let repo = format!("bench/mono{round}");
            let work = timed(registry.upload_file(&repo, &digest, &file));
            mono[i].push(with_cpu(server, table, "(a) monolithic upload", work).await?);
        }
        let (digest, _, parts) = blob_files(&scratch, size, 100 + round)?;
        for (i, server) in servers.iter().enumerate() {
            let registry = Registry::new(&server.base);
            let repo = format!("bench/chunked{round}");
            let work = timed(registry.upload_parts(&repo, &digest, &parts));
            chunked[i].push(with_cpu(server, table, "(b) chunked upload", work).await?);
        }
        last_blob = Some((format!("bench/chunked{round}"), digest));
    }
    for (i, server) in servers.iter().enumerate() {
        let rate = mib / median(mono[i].clone()).as_secs_f64();
        table.record(
            "(a) monolithic upload, median of 3",
            "MB/s",
            server.kind,
            rate,
            Better::Higher,
        );
        let rate = mib / median(chunked[i].clone()).as_secs_f64();
        table.record(
            "(b) chunked upload (16 MiB PATCHes), median of 3",
            "MB/s",
            server.kind,
            rate,
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
