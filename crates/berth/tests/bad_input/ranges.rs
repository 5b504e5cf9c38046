//! Upload bodies whose size disagrees with their Content-Length or Content-Range, in chunks
//! and in monolithic pushes.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;

use crate::fixture::*;
use crate::support::http::*;

/// Codes for a chunk whose size or position is wrong.
const SIZE_CODES: &[&str] = &["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "RANGE_INVALID"];

/// Headers of a blob chunk declaring `range`.
fn ranged(range: &str) -> Headers {
    vec![octet(), ("Content-Range", range.to_owned())]
}

/// Bytes received by an upload, from its status; the ambiguous `0-0` is settled by the staged
/// file's size.
async fn current_len(reg: &Registry, location: &str, staged: Option<u64>) -> u64 {
    let response = reg.upload_status(location).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT, "upload status");
    let range = header(&response, "range").expect("Range on upload status");
    let len = range_len(&range).unwrap_or_else(|| staged.expect("staged file"));
    assert_eq!(
        Some(len),
        staged,
        "status Range {range} agrees with the staged bytes"
    );
    len
}

/// A PATCH declaring `range` whose body is streamed in `piece`-byte chunks, so that only the
/// range declares a size; the mismatch must be refused.
async fn refuse_streamed_patch(
    fx: &Fixture,
    location: &str,
    range: String,
    body: Bytes,
    piece: usize,
    what: &str,
) {
    let response = fx
        .reg
        .http
        .patch(location)
        .header("content-type", "application/octet-stream")
        .header("content-range", range)
        .body(slow_body(body, piece, Duration::ZERO))
        .send()
        .await
        .unwrap();
    expect_error(what, response, &[400, 416], SIZE_CODES).await;
    fx.intact(what).await;
}

/// A monolithic push claiming `claim` whose body is not `declared` bytes long. A short body
/// is followed by EOF, so the server sees it cut short rather than waiting for the rest.
async fn refuse_monolithic(
    fx: &Fixture,
    what: &str,
    claim: &str,
    declared: usize,
    body: &[u8],
    codes: &[&str],
) {
    let headers = [octet(), ("Content-Length", declared.to_string())];
    let target = format!("/v2/acme/app/blobs/uploads/?digest={claim}");
    let half_close = body.len() < declared;
    let reply = fx
        .raw_as(what, "POST", &target, &headers, body, half_close)
        .await;
    reply.expect_error(what, &[400], codes);
}

#[tokio::test(flavor = "multi_thread")]
async fn content_length_and_content_range_mismatches_are_refused() {
    let fx = Fixture::start().await;
    let data = pseudo_random(9, 1000);
    let digest = digest_of(&data);
    let location = fx.reg.start_upload("acme/app").await.unwrap();
    let path = fx.path_of(&location);
    let id = path.rsplit('/').next().unwrap().to_owned();
    let staged_len = || {
        std::fs::metadata(fx.data_dir().join("blobs/uploads").join(&id))
            .map(|m| m.len())
            .ok()
    };

    // Refused before a byte is read: Content-Length disagrees with Content-Range, the range
    // does not start at the current end, or the range does not parse.
    for (what, range, body) in [
        ("Content-Range 0-99 with 50 bytes", "0-99", 0..50),
        ("Content-Range 0-9 with 50 bytes", "0-9", 0..50),
        ("Content-Range 10-19 at offset 0", "10-19", 10..20),
        ("Content-Range 5-2", "5-2", 0..4),
        ("Content-Range garbage", "garbage", 0..10),
        ("Content-Range -5", "-5", 0..6),
        ("Content-Range 0-", "0-", 0..10),
        (
            "Content-Range beyond u64",
            "0-99999999999999999999999",
            0..10,
        ),
    ] {
        let what = format!("PATCH with {what}");
        let reply = fx.raw("PATCH", &path, &ranged(range), &data[body]).await;
        reply.expect_error(&what, &[400, 416], SIZE_CODES);
        if reply.status == 416 {
            assert_eq!(
                reply.header("range"),
                Some("0-0"),
                "{what}: 416 reports the bytes received"
            );
        }
        assert_eq!(staged_len(), Some(0), "{what}: nothing may be staged");
        fx.intact(&what).await;
    }

    // A good first chunk.
    let ok = fx
        .reg
        .patch_chunk(&location, data.slice(..100), 0)
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&ok, "range").as_deref(), Some("0-99"));

    // A body shorter than its Content-Range.
    let short = data.slice(100..150);
    let what = "PATCH 100-199 with 50 bytes";
    refuse_streamed_patch(&fx, &location, "100-199".into(), short, 10, what).await;
    // A body longer than its Content-Range.
    let received = current_len(&fx.reg, &location, staged_len()).await;
    assert!(
        (100..=150).contains(&received),
        "after a short chunk the upload has {received} bytes"
    );
    let over = data.slice(received as usize..received as usize + 100);
    let range = format!("{received}-{}", received + 49);
    let what = "PATCH of 100 bytes declaring 50";
    refuse_streamed_patch(&fx, &location, range, over, 100, what).await;
    let before = received;
    let received = current_len(&fx.reg, &location, staged_len()).await;
    assert!(
        (before..=before + 50).contains(&received),
        "a chunk declaring 50 bytes but sending 100 grew the upload from {before} to {received} bytes"
    );

    // Finishing with a mismatching Content-Length/Content-Range, or at the wrong offset.
    let rest = &data[received as usize..];
    let end = received + rest.len() as u64;
    for (what, range) in [
        (
            "PUT with Content-Range longer than the body",
            format!("{received}-{end}"),
        ),
        (
            "PUT with Content-Range at the wrong offset",
            format!("{}-{end}", received + 1),
        ),
        (
            "PUT with Content-Range 0-0 and a long body",
            "0-0".to_owned(),
        ),
    ] {
        let target = format!("{path}?digest={digest}");
        let reply = fx.raw("PUT", &target, &ranged(&range), rest).await;
        reply.expect_error(what, &[400, 416], SIZE_CODES);
        assert_eq!(
            staged_len(),
            Some(received),
            "{what}: the staged bytes are unchanged"
        );
        fx.reg.assert_blob_absent("acme/app", &digest, what).await;
        fx.intact(what).await;
    }

    // After all those refusals the session resumes from where it stands and stores the right bytes.
    let response = fx
        .reg
        .http
        .put(Registry::with_digest(&location, &digest))
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("{received}-{}", data.len() - 1))
        .body(Bytes::copy_from_slice(rest))
        .send()
        .await
        .unwrap();
    let what = "finishing the upload after refused chunks";
    assert_created(response, &digest, what).await;
    fx.reg
        .assert_blob("acme/app", &data, "blob finished after refused chunks")
        .await;

    // Monolithic pushes whose body is shorter or longer than the Content-Length.
    let blob = pseudo_random(10, 2000);
    let full = digest_of(&blob);
    let half = digest_of(&blob[..1000]);
    // Shorter: the client half-closes after 1000 of 2000 declared bytes.
    let what = "POST with a body shorter than Content-Length";
    let codes = &["SIZE_INVALID", "BLOB_UPLOAD_INVALID", "DIGEST_INVALID"];
    refuse_monolithic(&fx, what, &full, 2000, &blob[..1000], codes).await;
    assert_eq!(
        staged_uploads(&fx.data_dir()),
        Vec::<String>::new(),
        "a refused monolithic body left staged bytes"
    );
    fx.assert_blobs_absent("acme/app", &[&full, &half], what)
        .await;
    fx.intact(what).await;
    // Longer: 2000 bytes after `Content-Length: 1000`; the server reads 1000, whose digest is
    // not the claimed one.
    let what = "POST with a body longer than Content-Length";
    let codes = &["DIGEST_INVALID", "SIZE_INVALID"];
    refuse_monolithic(&fx, what, &full, 1000, &blob, codes).await;
    fx.assert_blobs_absent("acme/app", &[&full, &half], what)
        .await;
    fx.intact(what).await;
    fx.finish();
}
