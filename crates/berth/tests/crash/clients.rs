//! The clients each round starts before the kill: slow chunked and monolithic blob uploads and
//! small image pushes, each recording what it attempted and what the server acknowledged. A
//! failed request means the server is gone and ends the client; any other answer than the
//! expected one while the server is up fails the test.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use tokio::task::JoinHandle;

use crate::attempts::{record, BlobAttempt, Log, ManifestAttempt, KIB, MIB};
use crate::support::http::*;

/// Starts one round's clients: four chunked and three monolithic blob uploaders, each in its
/// own repository, and three image pushers sharing two repositories.
pub fn spawn_round(
    reg: &Registry,
    round: usize,
    blobs: &Log<BlobAttempt>,
    images: &Log<ManifestAttempt>,
) -> Vec<JoinHandle<()>> {
    let base = round as u64 * 50;
    let chunked = (0..4u64).map(|k| (format!("crash/c{k}"), 1 + base + k, true));
    let monolithic = (0..3u64).map(|k| (format!("crash/m{k}"), 20 + base + k, false));
    let mut tasks: Vec<_> = chunked
        .chain(monolithic)
        .map(|(repo, seed, chunked)| {
            let uploader = blob_uploader(reg.clone(), round, repo, seed, chunked, blobs.clone());
            tokio::spawn(uploader)
        })
        .collect();
    tasks.extend((0..3u64).map(|k| {
        let (repo, seed) = (format!("crash/img{}", k % 2), 40 + base + k);
        tokio::spawn(image_pusher(reg.clone(), round, repo, seed, images.clone()))
    }));
    tasks
}

/// Four blobs one after the other, each streamed slowly so that the kill finds some in
/// flight: chunked ones of 1-3 MiB in 512 KiB PATCHes, the others of 1-2 MiB in a
/// monolithic `POST ?digest=` with a `Content-Length`.
async fn blob_uploader(
    reg: Registry,
    round: usize,
    repo: String,
    seed: u64,
    chunked: bool,
    log: Log<BlobAttempt>,
) {
    for n in 0..4u64 {
        let size = if chunked {
            MIB + ((seed * 7 + n * 13) % 9) as usize * 256 * KIB
        } else {
            MIB + ((seed * 5 + n * 11) % 5) as usize * 256 * KIB
        };
        let data = pseudo_random(seed * 100 + n, size);
        let idx = BlobAttempt::record(&log, round, &repo, &data, chunked);
        let acknowledged = if chunked {
            upload_chunked(&reg, &repo, &data, &log, idx).await
        } else {
            upload_monolithic(&reg, &repo, data).await
        };
        if acknowledged.is_none() {
            return;
        }
        log.lock().unwrap()[idx].completed = true;
    }
}

/// `None` once a request fails; the session URL goes into the log as soon as it is known, so
/// the upload can be resumed after the restart.
async fn upload_chunked(
    reg: &Registry,
    repo: &str,
    data: &Bytes,
    log: &Log<BlobAttempt>,
    idx: usize,
) -> Option<()> {
    let location = reg.start_upload(repo).await.ok()?;
    log.lock().unwrap()[idx].location = Some(location.clone());
    let mut offset = 0;
    while offset < data.len() {
        let end = (offset + 512 * KIB).min(data.len());
        let piece = slow_body(data.slice(offset..end), 32 * KIB, Duration::from_millis(5));
        let response = reg
            .patch_request(&location, offset as u64, (end - offset) as u64)
            .body(piece)
            .send()
            .await
            .ok()?;
        let what = format!("PATCH {offset}-{end} while the server is up");
        assert_status(response, StatusCode::ACCEPTED, &what).await;
        offset = end;
    }
    let digest = digest_of(data);
    let response = reg.finish_upload(&location, &digest).await.ok()?;
    let what = format!("PUT {digest} while the server is up");
    assert_status(response, StatusCode::CREATED, &what).await;
    Some(())
}

async fn upload_monolithic(reg: &Registry, repo: &str, data: Bytes) -> Option<()> {
    let response = reg
        .monolithic_post(repo, &digest_of(&data))
        .header("content-length", data.len())
        .body(slow_body(data, 32 * KIB, Duration::from_millis(5)))
        .send()
        .await
        .ok()?;
    let what = "monolithic POST while the server is up";
    assert_status(response, StatusCode::CREATED, what).await;
    Some(())
}

/// Small images pushed one after the other to a few tags that get overwritten.
async fn image_pusher(
    reg: Registry,
    round: usize,
    repo: String,
    seed: u64,
    log: Log<ManifestAttempt>,
) {
    for n in 0..40u64 {
        let tag = format!("m{}", n % 3);
        let image_seed = 10_000 * (round as u64 + 1) + seed * 100 + n;
        let image = Image::new(&repo, &tag, image_seed, &[20_000 + (n as usize % 7) * 3000]);
        let attempt = ManifestAttempt {
            image: image.clone(),
            completed: false,
        };
        let idx = record(&log, attempt);
        if push_image(&reg, &image).await.is_none() {
            return;
        }
        log.lock().unwrap()[idx].completed = true;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// Blobs (monolithic), then the manifest by tag; `None` once a request fails.
async fn push_image(reg: &Registry, image: &Image) -> Option<()> {
    for blob in image.blobs() {
        let response = reg
            .monolithic_post(&image.repo, &digest_of(&blob))
            .body(blob)
            .send()
            .await
            .ok()?;
        let what = "image blob push while the server is up";
        assert_status(response, StatusCode::CREATED, what).await;
    }
    let response = reg
        .put_manifest(
            &image.repo,
            &image.tag,
            OCI_MANIFEST,
            image.manifest.clone(),
        )
        .await
        .ok()?;
    let what = "manifest push while the server is up";
    assert_status(response, StatusCode::CREATED, what).await;
    Some(())
}
