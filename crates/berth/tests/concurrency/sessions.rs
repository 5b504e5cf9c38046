//! Clients racing on one upload session: the same chunk PATCHed, the session finished,
//! finished and cancelled, or cancelled twice, all at once. The server must behave as if the
//! requests ran one after the other, so exactly one of them wins each race.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use tokio::sync::Barrier;

use crate::support::http::*;
use crate::support::TestServer;

/// Sends `method` to `url` once `barrier` opens; returns the status, checking error bodies.
async fn race_request(
    reg: Registry,
    method: Method,
    url: String,
    barrier: Arc<Barrier>,
    ok: u16,
) -> u16 {
    barrier.wait().await;
    let what = format!("racing {method} {url}");
    let response = reg
        .http
        .request(method, url)
        .header("content-length", "0")
        .send()
        .await
        .expect("reply");
    let status = response.status().as_u16();
    if status != ok {
        expect_error(&what, response, &[404], &["BLOB_UPLOAD_UNKNOWN"]).await;
    }
    status
}

/// Two `race_request`s (method, URL, success status) released at once; their statuses.
async fn race_pair(
    reg: &Registry,
    first: (Method, String, u16),
    second: (Method, String, u16),
) -> (u16, u16) {
    let barrier = Arc::new(Barrier::new(2));
    let [first, second] = [first, second].map(|(method, url, ok)| {
        tokio::spawn(race_request(reg.clone(), method, url, barrier.clone(), ok))
    });
    (first.await.unwrap(), second.await.unwrap())
}

/// A new session in `race/session` whose first chunk, `chunk`, was accepted.
async fn session_with(reg: &Registry, chunk: Bytes) -> String {
    let location = reg.start_upload("race/session").await.unwrap();
    let patched = reg.patch_chunk(&location, chunk, 0).await.unwrap();
    assert_eq!(patched.status(), StatusCode::ACCEPTED);
    location
}

/// The same chunk PATCHed by `racers` clients at once; returns (status, Range) of each.
async fn race_patches(
    server: &TestServer,
    path: &str,
    chunk: Bytes,
    start: usize,
    racers: usize,
) -> Vec<(u16, Option<String>)> {
    let end = start + chunk.len();
    let barrier = Arc::new(Barrier::new(racers));
    let racers: Vec<_> = (0..racers)
        .map(|_| {
            let (addr, path, chunk, barrier) = (
                server.host(),
                path.to_owned(),
                chunk.clone(),
                barrier.clone(),
            );
            tokio::spawn(async move {
                let headers = vec![
                    ("Content-Type", "application/octet-stream".to_owned()),
                    ("Content-Range", format!("{start}-{}", end - 1)),
                ];
                barrier.wait().await;
                let reply = raw_request(&addr, "PATCH", &path, &headers, &chunk, false)
                    .await
                    .expect("PATCH reply");
                if reply.status != 202 {
                    reply.expect_error(
                        "racing PATCH",
                        &[416],
                        &["BLOB_UPLOAD_INVALID", "RANGE_INVALID"],
                    );
                }
                (reply.status, reply.header("range").map(str::to_owned))
            })
        })
        .collect();
    let mut replies = Vec::new();
    for racer in racers {
        replies.push(racer.await.unwrap());
    }
    replies
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_requests_on_one_upload_session_are_serialised() {
    let server = TestServer::start();
    let reg = Registry::new(server.url());
    const RACERS: usize = 16;
    let data = pseudo_random(21, 64 * 1024);
    let half = data.len() / 2;
    let digest = digest_of(&data);
    let location = reg.start_upload("race/session").await.unwrap();

    // The same chunk PATCHed by many clients at once is appended exactly once; the others
    // are told where the upload stands. The racers use bare sockets that send the whole body
    // before reading: the server answers a refused chunk without reading it and closes, which
    // reqwest may report as a dropped connection instead of the 416.
    let path = location.strip_prefix(&reg.base).expect("same server");
    for (start, end) in [(0, half), (half, data.len())] {
        let mut accepted = 0;
        for (status, range) in
            race_patches(&server, path, data.slice(start..end), start, RACERS).await
        {
            if status == 202 {
                accepted += 1;
            }
            assert_eq!(
                range.as_deref(),
                Some(format!("0-{}", end - 1).as_str()),
                "Range after a racing PATCH ({status})"
            );
        }
        assert_eq!(
            accepted, 1,
            "exactly one of the racing PATCHes of {start}-{end} is accepted"
        );
    }

    // Many clients finishing the same session: one stores the blob, the others find it gone.
    let barrier = Arc::new(Barrier::new(8));
    let url = Registry::with_digest(&location, &digest);
    let finishers: Vec<_> = (0..8)
        .map(|_| {
            let (reg, url, barrier) = (reg.clone(), url.clone(), barrier.clone());
            tokio::spawn(race_request(reg, Method::PUT, url, barrier, 201))
        })
        .collect();
    let mut created = 0;
    for finisher in finishers {
        if finisher.await.unwrap() == 201 {
            created += 1;
        }
    }
    assert_eq!(created, 1, "exactly one of the racing PUTs stores the blob");
    reg.assert_blob("race/session", &data, "blob of the raced session")
        .await;

    assert_no_staged_uploads(&server.data_dir());
    assert_committed_blobs_valid(&server.data_dir());
    assert_log_clean(&server.log());
}

/// A session finished and cancelled at once, or cancelled twice at once: the requests must
/// behave as if they ran one after the other, so exactly one of them succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn finishing_and_cancelling_one_session_at_once_has_exactly_one_winner() {
    let server = TestServer::start();
    let reg = Registry::new(server.url());
    let mut put_vs_delete = Vec::new();
    let mut delete_vs_delete = Vec::new();
    for k in 0..12u64 {
        let blob = pseudo_random(100 + k, 300 * 1024);
        let blob_digest = digest_of(&blob);
        let location = session_with(&reg, blob.clone()).await;
        let put_url = Registry::with_digest(&location, &blob_digest);
        let (put, delete) = race_pair(
            &reg,
            (Method::PUT, put_url, 201),
            (Method::DELETE, location, 204),
        )
        .await;
        if put == 201 {
            reg.assert_blob("race/session", &blob, "blob whose PUT raced a DELETE")
                .await;
        } else {
            reg.assert_blob_absent(
                "race/session",
                &blob_digest,
                "blob whose DELETE won against a PUT",
            )
            .await;
        }
        put_vs_delete.push((put, delete));

        let location = session_with(&reg, blob.slice(..1000)).await;
        let cancel = (Method::DELETE, location, 204);
        delete_vs_delete.push(race_pair(&reg, cancel.clone(), cancel).await);
    }
    assert_no_staged_uploads(&server.data_dir());
    assert_log_clean(&server.log());
    let both_won = put_vs_delete
        .iter()
        .filter(|&&(put, delete)| put == 201 && delete == 204)
        .count();
    let double_cancel = delete_vs_delete
        .iter()
        .filter(|&&(a, b)| a == 204 && b == 204)
        .count();
    assert!(
        put_vs_delete.iter().all(|&(put, delete)| (put == 201) != (delete == 204))
            && delete_vs_delete.iter().all(|&(a, b)| (a == 204) != (b == 204)),
        "racing requests on one session both succeeded: PUT 201 + DELETE 204 in {both_won} of {} races {put_vs_delete:?}; \
         DELETE 204 + DELETE 204 in {double_cancel} of {} races {delete_vs_delete:?}\nserver log:\n{}",
        put_vs_delete.len(),
        delete_vs_delete.len(),
        server.log()
    );
}
