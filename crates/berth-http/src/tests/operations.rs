//! The operator's endpoints: scrub and storage usage.

use super::*;

/// Where the filesystem blob store keeps `digest`'s bytes under the test directory.
fn blob_file(app: &TestApp, digest: &Digest) -> std::path::PathBuf {
    let hex = digest.hex();
    app._dir
        .path()
        .join("blobs/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
}

#[tokio::test]
async fn usage_reports_own_and_shared_bytes_per_repository() {
    let app = TestApp::new().await;
    let a = app.push_image("team/a", "v1", "shared").await;
    app.push_image("team/b", "v1", "shared").await;
    app.push_blob("team/b", b"only in b").await;
    let reply = app.get("/berth/v1/usage").await;
    reply.assert_status(StatusCode::OK);
    let rows = reply.json()["repositories"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    let (config, layer) = (b"config shared".len() as u64, b"layer shared".len() as u64);
    assert_eq!(rows[0]["repository"], "team/a");
    assert_eq!(rows[0]["blobs"], 2);
    assert_eq!(rows[0]["own_bytes"], 0);
    assert_eq!(rows[0]["shared_bytes"], config + layer);
    assert_eq!(rows[0]["manifests"], 1);
    assert_eq!(rows[0]["manifest_bytes"], a.body.len() as u64);
    assert_eq!(rows[0]["tags"], 1);
    assert_eq!(
        rows[0]["size"],
        config + layer + a.body.len() as u64,
        "{rows}"
    );
    assert_eq!(rows[1]["repository"], "team/b");
    assert_eq!(rows[1]["own_bytes"], b"only in b".len() as u64);
    assert_eq!(rows[1]["blobs"], 3);
}

#[tokio::test]
async fn a_repairing_scrub_stops_serving_a_corrupt_blob_until_it_is_pushed_again() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "scrubbed").await;
    let clean = app.post("/berth/v1/scrub").await;
    clean.assert_status(StatusCode::OK);
    assert_eq!(clean.json()["complete"], true);
    assert_eq!(clean.json()["blobs"], json!([]));

    std::fs::write(blob_file(&app, &image.layer), b"layer scrubbeD").unwrap();
    let found = app.post("/berth/v1/scrub").await.json();
    assert_eq!(found["blobs"][0]["digest"], image.layer.as_str());
    assert_eq!(found["blobs"][0]["problem"]["kind"], "corrupt");
    assert_eq!(found["affected"][0]["tags"], json!(["v1"]));
    app.get(&format!("/v2/app/blobs/{}", image.layer))
        .await
        .assert_status(StatusCode::OK);

    let repaired = app.post("/berth/v1/scrub?repair=true").await.json();
    assert_eq!(repaired["blobs"][0]["quarantined"], true);
    for method in [Method::GET, Method::HEAD] {
        app.send_empty(method, &format!("/v2/app/blobs/{}", image.layer))
            .await
            .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    }
    app.post_blob("app", &image.layer, b"layer scrubbed")
        .await
        .assert_status(StatusCode::CREATED);
    app.assert_image_intact("app", "v1", &image).await;
}

#[tokio::test]
async fn scrub_options_are_checked() {
    let app = TestApp::new().await;
    for query in [
        "rate=0",
        "rate=fast",
        "repair=maybe",
        "max_blobs=-1",
        "bogus=1",
    ] {
        app.post(&format!("/berth/v1/scrub?{query}"))
            .await
            .assert_status(StatusCode::BAD_REQUEST);
    }
    app.get("/berth/v1/scrub")
        .await
        .assert_status(StatusCode::METHOD_NOT_ALLOWED);
}
