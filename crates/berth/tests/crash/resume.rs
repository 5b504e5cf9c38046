//! After a restart: chunked uploads the kill interrupted either resume from the length the
//! server reports (the staged bytes being exactly that prefix), are cancelled, or are cleanly
//! unknown; and the server still accepts fresh pushes.

use std::path::Path;

use reqwest::StatusCode;

use crate::attempts::{snapshot, BlobAttempt, Log, KIB};
use crate::support::http::*;
use crate::support::TestServer;

/// What became of one interrupted upload.
enum Outcome {
    Resumed,
    Cancelled,
    Unknown,
}

/// Interrupted chunked uploads of `round`: every third live one is cancelled, the others are
/// finished and marked acknowledged. Returns (resumed, cancelled, unknown).
pub async fn resume_interrupted(
    reg: &Registry,
    server: &TestServer,
    log: &Log<BlobAttempt>,
    round: usize,
) -> (usize, usize, usize) {
    let interrupted = snapshot(log)
        .into_iter()
        .enumerate()
        .filter(|(_, a)| a.round == round && a.chunked && !a.completed && a.location.is_some());
    let (mut resumed, mut cancelled, mut unknown) = (0, 0, 0);
    for (n, (idx, attempt)) in interrupted.enumerate() {
        match resume_one(reg, server, &attempt, round, n % 3 == 2).await {
            Outcome::Resumed => {
                log.lock().unwrap()[idx].completed = true;
                resumed += 1;
            }
            Outcome::Cancelled => cancelled += 1,
            Outcome::Unknown => unknown += 1,
        }
    }
    (resumed, cancelled, unknown)
}

async fn resume_one(
    reg: &Registry,
    server: &TestServer,
    attempt: &BlobAttempt,
    round: usize,
    cancel: bool,
) -> Outcome {
    let location = attempt.location.clone().unwrap();
    let what = format!(
        "round {round}: interrupted upload of {} ({} bytes) at {location}",
        attempt.digest,
        attempt.data.len()
    );
    let response = reg.upload_status(&location).await.expect("status GET");
    if response.status() == StatusCode::NOT_FOUND {
        expect_error(&what, response, &[404], &["BLOB_UPLOAD_UNKNOWN"]).await;
        return Outcome::Unknown;
    }
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "{what}: upload status"
    );
    let range =
        header(&response, "range").unwrap_or_else(|| panic!("{what}: status without Range"));
    let id = location.rsplit('/').next().unwrap();
    let staged_path = server.data_dir().join("blobs/uploads").join(id);
    let staged = std::fs::read(&staged_path).unwrap_or_else(|e| panic!("{what}: staged file: {e}"));
    let len = range_len(&range).unwrap_or(staged.len() as u64) as usize;
    assert_eq!(
        len,
        staged.len(),
        "{what}: status Range {range} disagrees with the {} staged bytes",
        staged.len()
    );
    assert!(
        len <= attempt.data.len(),
        "{what}: {len} bytes staged, more than were sent"
    );
    assert!(
        staged[..] == attempt.data[..len],
        "{what}: the {len} staged bytes are not what was sent"
    );
    if cancel {
        cancel_upload(reg, &location, &staged_path, &what).await;
        return Outcome::Cancelled;
    }
    if len < attempt.data.len() {
        let response = reg
            .patch_chunk(&location, attempt.data.slice(len..), len as u64)
            .await
            .expect("PATCH");
        let resuming = format!("{what}: resuming PATCH from {len}");
        let headers = assert_status(response, StatusCode::ACCEPTED, &resuming).await;
        assert_eq!(
            header_value(&headers, "range"),
            Some(format!("0-{}", attempt.data.len() - 1)),
            "{what}: Range after resuming"
        );
    }
    let response = reg.finish_upload(&location, &attempt.digest).await.unwrap();
    assert_created(
        response,
        &attempt.digest,
        &format!("{what}: finishing after restart"),
    )
    .await;
    reg.assert_blob(&attempt.repo, &attempt.data, &what).await;
    Outcome::Resumed
}

/// Cancels a session that survived the restart; it and its staged file are gone afterwards.
async fn cancel_upload(reg: &Registry, location: &str, staged_path: &Path, what: &str) {
    let response = reg.http.delete(location).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "{what}: cancel after restart"
    );
    let status = reg.upload_status(location).await.unwrap();
    expect_error(
        &format!("{what}: status after cancel"),
        status,
        &[404],
        &["BLOB_UPLOAD_UNKNOWN"],
    )
    .await;
    assert!(!staged_path.exists(), "{what}: cancel left the staged file");
}

/// The image `fresh_push` pushes for `label` and `seed`, to check it again later.
pub fn fresh_image(label: &str, seed: u64) -> Image {
    Image::new("crash/fresh", label, seed, &[300 * KIB, 1000])
}

/// The server accepts and serves a fresh image and a fresh chunked blob.
pub async fn fresh_push(reg: &Registry, label: &str, seed: u64) {
    let image = fresh_image(label, seed);
    reg.push_image(&image).await;
    reg.assert_image(&image, &format!("fresh push {label}"))
        .await;
    let blob = pseudo_random(seed + 1, 700 * KIB);
    reg.push_blob_chunked("crash/fresh", &blob, 200 * KIB).await;
    reg.assert_blob("crash/fresh", &blob, &format!("fresh chunked push {label}"))
        .await;
}
