//! Upload sessions that cannot be used: never started, not an id, finished, cancelled, or
//! belonging to another repository.

use bytes::Bytes;
use reqwest::StatusCode;

use crate::fixture::*;
use crate::support::http::*;

/// The path of session `id` in `repo`.
fn session_path(repo: &str, id: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/{id}")
}

/// Every method on a session path must be refused in the same way; `data` is what the writes
/// try to send.
async fn all_methods_unknown(fx: &Fixture, path: &str, data: &[u8], what: &str) {
    let digest = digest_of(data);
    let cases: Vec<(&str, String, Headers, &[u8])> = vec![
        ("GET", path.to_owned(), vec![], &[]),
        (
            "PATCH",
            path.to_owned(),
            vec![octet(), ("Content-Range", format!("0-{}", data.len() - 1))],
            data,
        ),
        ("PATCH", path.to_owned(), vec![octet()], data),
        ("PUT", format!("{path}?digest={digest}"), vec![], &[]),
        (
            "PUT",
            format!("{path}?digest={digest}"),
            vec![octet()],
            data,
        ),
        ("DELETE", path.to_owned(), vec![], &[]),
    ];
    for (method, target, headers, body) in cases {
        let label = format!("{what}: {method} {target}");
        let reply = fx.raw(method, &target, &headers, body).await;
        reply.expect_error(&label, &[404], &["BLOB_UPLOAD_UNKNOWN"]);
        fx.intact(&label).await;
    }
}

/// Well-formed session ids that no session was ever started under.
const NEVER_STARTED: [&str; 2] = [
    "0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978",
    "00000000-0000-0000-0000-000000000000",
];
/// Strings that are not session ids, some aiming at files in the data directory.
const NOT_IDS: [&str; 8] = [
    "not-a-uuid",
    "0B1E5CFA-3F6B-4A3C-9F0E-2D3C4B5A6978",
    "0b1e5cfa3f6b4a3c9f0e2d3c4b5a6978",
    "0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a69780",
    "..%2F..%2Fmetadata.db",
    "%2e%2e%2f%2e%2e%2fmetadata.db",
    "..",
    "metadata.db",
];

#[tokio::test(flavor = "multi_thread")]
async fn unknown_finished_and_invalid_upload_sessions_are_404() {
    let fx = Fixture::start().await;
    let data = pseudo_random(11, 3000);
    let digest = digest_of(&data);

    for id in NEVER_STARTED {
        let path = session_path("acme/app", id);
        all_methods_unknown(&fx, &path, &data, "unknown session").await;
    }
    fx.reg
        .assert_blob_absent("acme/app", &digest, "writes to unknown sessions")
        .await;
    for id in NOT_IDS {
        let path = session_path("acme/app", id);
        all_methods_unknown(&fx, &path, &data, &format!("invalid id {id}")).await;
    }
    fx.reg
        .assert_blob_absent("acme/app", &digest, "writes to invalid sessions")
        .await;

    // Finished.
    let what = "finishing an upload";
    let location = fx.start_with_chunk("acme/app", data.clone(), what).await;
    fx.finish_upload(&location, &digest, what).await;
    all_methods_unknown(&fx, &fx.path_of(&location), &data, "finished session").await;
    fx.reg
        .assert_blob("acme/app", &data, "blob of a finished session")
        .await;

    // Cancelled.
    let other = pseudo_random(12, 500);
    let what = "cancelling a session";
    let location = fx.start_with_chunk("acme/app", other.clone(), what).await;
    fx.cancel(&location, what).await;
    all_methods_unknown(&fx, &fx.path_of(&location), &other, "cancelled session").await;
    fx.reg
        .assert_blob_absent("acme/app", &digest_of(&other), "cancelled session")
        .await;

    // A session of another repository is unknown here, and survives the attempts.
    let location = fx.reg.start_upload("acme/app").await.unwrap();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let third = pseudo_random(13, 800);
    let third_digest = digest_of(&third);
    let foreign_path = session_path("other/repo", &id);
    all_methods_unknown(&fx, &foreign_path, &third, "foreign session").await;
    let patched = fx
        .reg
        .patch_chunk(&location, third.clone(), 0)
        .await
        .unwrap();
    assert_eq!(
        patched.status(),
        StatusCode::ACCEPTED,
        "the session still works in its own repository"
    );
    let what = "finishing after foreign attempts";
    fx.finish_upload(&location, &third_digest, what).await;
    fx.reg
        .assert_blob("acme/app", &third, "blob of the foreign-probed session")
        .await;
    fx.reg
        .assert_blob_absent("other/repo", &third_digest, "foreign repository")
        .await;

    refuse_other_upload_methods(&fx, &id, &third).await;
    assert_eq!(
        staged_uploads(&fx.data_dir()),
        Vec::<String>::new(),
        "no staged upload is left"
    );
    fx.intact("all session cases").await;
    fx.finish();
}

/// Methods the upload endpoints do not serve: GET on the collection, POST on a session.
async fn refuse_other_upload_methods(fx: &Fixture, id: &str, body: &Bytes) {
    let codes = &["UNSUPPORTED", "BLOB_UPLOAD_UNKNOWN"];
    let reply = fx.raw("GET", "/v2/acme/app/blobs/uploads/", &[], &[]).await;
    reply.expect_error("GET on the uploads collection", &[404, 405], codes);
    let target = session_path("acme/app", id);
    let reply = fx.raw("POST", &target, &[octet()], body).await;
    reply.expect_error("POST on a session", &[404, 405], codes);
}
