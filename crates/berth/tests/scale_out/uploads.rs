//! One upload session, several nodes: chunks alternate between A and B (each node's cached
//! hash state goes stale and is rebuilt from the staged bytes), a wrong digest at the end is
//! refused and leaves nothing visible, and a session whose node was killed (SIGKILL) midway is
//! finished on the other node from the offset it reports.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;

use crate::cluster::{on_node, Cluster};
use crate::support::http::{
    assert_created, assert_status, digest_of, expect_error, header, header_value, pseudo_random,
    slow_body, Registry,
};

/// The bytes a session holds according to node `reg`: a 204 status with `Range: 0-<last>`.
async fn staged_len(reg: &Registry, location: &str, what: &str) -> u64 {
    let response = reg.upload_status(location).await.expect("status GET");
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "{what}: upload status at {location}"
    );
    let range = header(&response, "range").unwrap_or_else(|| panic!("{what}: no Range"));
    let (start, last) = range
        .split_once('-')
        .unwrap_or_else(|| panic!("{what}: Range {range}"));
    assert_eq!(start, "0", "{what}: Range {range}");
    last.parse::<u64>().expect("Range end") + 1
}

/// `PATCH` of `chunk` at `offset` to `location` through `reg`; asserts 202 with the new Range.
async fn patch(reg: &Registry, location: &str, chunk: Bytes, offset: u64, what: &str) {
    let end = offset + chunk.len() as u64;
    let response = reg
        .patch_chunk(location, chunk, offset)
        .await
        .expect("PATCH");
    let headers = assert_status(response, StatusCode::ACCEPTED, what).await;
    assert_eq!(
        header_value(&headers, "range"),
        Some(format!("0-{}", end - 1)),
        "{what}: Range"
    );
}

/// Cuts `data` at `cuts` (increasing offsets) into chunks.
fn chunks(data: &Bytes, cuts: &[usize]) -> Vec<(u64, Bytes)> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(data.len());
    bounds
        .windows(2)
        .map(|w| (w[0] as u64, data.slice(w[0]..w[1])))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_of_one_upload_alternate_between_nodes() {
    let cluster = Cluster::start(&[]).await;
    let (a, b) = cluster.registries();
    let nodes = [("A", &a), ("B", &b)];
    let repo = "scale/chunks";

    let data = pseudo_random(7, 900_000);
    let digest = digest_of(&data);
    let pieces = chunks(&data, &[1, 150_000, 333_333, 500_000, 777_777]);
    let location = a.start_upload(repo).await.expect("upload start on A");
    // A gets the first chunk, B the second, A the third... and B finishes with the last one
    // in the PUT body, its cached hash state being two chunks behind.
    let (last_offset, last_chunk) = pieces.last().cloned().expect("chunks");
    for (i, (offset, chunk)) in pieces[..pieces.len() - 1].iter().enumerate() {
        let (name, node) = nodes[i % 2];
        let (other_name, other) = nodes[(i + 1) % 2];
        let what = format!("chunk {i} at {offset} on {name}");
        patch(
            node,
            &on_node(node, &location),
            chunk.clone(),
            *offset,
            &what,
        )
        .await;
        let end = offset + chunk.len() as u64;
        let seen = staged_len(other, &on_node(other, &location), &what).await;
        assert_eq!(seen, end, "{what}: offset as node {other_name} reports it");
    }
    let finish = on_node(&b, &location);
    let response = b
        .http
        .put(Registry::with_digest(&finish, &digest))
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("{last_offset}-{}", data.len() - 1))
        .body(last_chunk)
        .send()
        .await
        .expect("final PUT on B");
    assert_created(response, &digest, "final PUT with the last chunk on B").await;
    for (name, node) in nodes {
        node.assert_blob(repo, &data, &format!("alternating upload, read on {name}"))
            .await;
    }

    // A wrong digest at the end: refused, the session is gone, nothing is visible.
    let data = pseudo_random(8, 300_000);
    let wrong = digest_of(b"not the uploaded bytes");
    let location = b.start_upload(repo).await.expect("upload start on B");
    let pieces = chunks(&data, &[100_000, 200_000]);
    for (i, (offset, chunk)) in pieces.iter().enumerate() {
        let (name, node) = nodes[(i + 1) % 2];
        let what = format!("chunk {i} at {offset} on {name} (bad digest upload)");
        patch(
            node,
            &on_node(node, &location),
            chunk.clone(),
            *offset,
            &what,
        )
        .await;
    }
    let response = a
        .finish_upload(&on_node(&a, &location), &wrong)
        .await
        .expect("PUT with a wrong digest");
    expect_error(
        "PUT with a wrong digest on A",
        response,
        &[400],
        &["DIGEST_INVALID"],
    )
    .await;
    for (name, node) in nodes {
        let what = format!("after the refused PUT, on {name}");
        node.assert_blob_absent(repo, &wrong, &what).await;
        node.assert_blob_absent(repo, &digest_of(&data), &what)
            .await;
        let status = node
            .upload_status(&on_node(node, &location))
            .await
            .expect("status GET");
        expect_error(&what, status, &[404], &["BLOB_UPLOAD_UNKNOWN"]).await;
        let again = node
            .finish_upload(&on_node(node, &location), &digest_of(&data))
            .await
            .expect("PUT again");
        expect_error(
            &format!("{what}: PUT with the right digest"),
            again,
            &[404],
            &["BLOB_UPLOAD_UNKNOWN"],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_begun_on_a_killed_node_finishes_on_the_other() {
    let mut cluster = Cluster::start(&[]).await;
    let (a, b) = cluster.registries();
    let repo = "scale/crash";

    let data = pseudo_random(21, 1_500_000);
    let digest = digest_of(&data);
    let location = a.start_upload(repo).await.expect("upload start on A");
    let acknowledged = 400_000u64;
    patch(&a, &location, data.slice(..250_000), 0, "chunk 0 on A").await;
    patch(
        &a,
        &location,
        data.slice(250_000..400_000),
        250_000,
        "chunk 1 on A",
    )
    .await;
    // A third chunk still streaming when A is killed.
    let rest = data.slice(400_000..);
    let in_flight = a
        .patch_request(&location, acknowledged, rest.len() as u64)
        .body(slow_body(rest, 16 * 1024, Duration::from_millis(40)));
    let sending = tokio::spawn(in_flight.send());
    tokio::time::sleep(Duration::from_millis(600)).await;
    cluster.a.kill();
    let cut = sending.await.expect("the PATCH task");
    assert!(
        cut.is_err() || cut.as_ref().is_ok_and(|r| !r.status().is_success()),
        "the chunk in flight was acknowledged although its node was killed: {cut:?}"
    );

    // The client carries on with B, from the offset B reports.
    let resumed = on_node(&b, &location);
    let len = staged_len(&b, &resumed, "status on B after A was killed").await;
    assert!(
        (acknowledged..=data.len() as u64).contains(&len),
        "B reports {len} bytes; {acknowledged} were acknowledged, {} sent at most",
        data.len()
    );
    if len < data.len() as u64 {
        patch(
            &b,
            &resumed,
            data.slice(len as usize..),
            len,
            "rest of the chunks on B",
        )
        .await;
    }
    let response = b.finish_upload(&resumed, &digest).await.expect("PUT on B");
    assert_created(response, &digest, "finishing on B").await;
    b.assert_blob(repo, &data, "upload finished on B").await;

    // A comes back on its data directory and serves the blob too.
    cluster.a.restart();
    a.assert_blob(repo, &data, "upload finished on B, read on restarted A")
        .await;
    crate::support::http::assert_log_clean(&cluster.b.log());
}
