//! Every event kind arrives with the right CloudEvents attributes, data and signature, and
//! each endpoint's filters pick its events.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::receiver::{hmac_sha256_hex, Receiver};
use crate::support::http::{client, digest_of, Image, Registry};
use crate::support::TestServer;
use crate::{delete, endpoint, once_in_outbox_order, wait_passed, SECRET};

/// A signature artifact about `subject`.
fn signature(subject: &Image) -> Bytes {
    let body = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(b"{}"), "size": 2},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.digest, "size": subject.manifest.len()},
    });
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_kind_arrives_signed_and_filtered() {
    let receiver = Receiver::start().await;
    let config = format!(
        "[notifications]\nsource = \"https://registry.test\"\n\n{}{}",
        endpoint(
            "all",
            &receiver.url("/all"),
            &format!("secret = {SECRET:?}\nbackoff = \"50ms\"")
        ),
        endpoint(
            "prod-referrers",
            &receiver.url("/prod"),
            "events = [\"dev.berth.referrer.attached\", \"dev.berth.tag.deleted\"]\n\
             repositories = [\"prod/*\"]\nbackoff = \"50ms\""
        ),
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());

    let first = Image::new("prod/app", "v1", 1, &[100]);
    let second = Image::new("prod/app", "v1", 2, &[100]);
    let elsewhere = Image::new("dev/app", "v1", 3, &[100]);
    registry.push_image(&first).await;
    registry.push_image(&second).await;
    registry
        .push_blob("prod/app", &Bytes::from_static(b"{}"))
        .await;
    let sig = signature(&second);
    let sig_digest = registry
        .push_manifest("prod/app", &digest_of(&sig), &sig)
        .await;
    registry.push_image(&elsewhere).await;
    delete(&registry, "prod/app", "v1").await;
    delete(&registry, "prod/app", &first.digest).await;
    let gc = client()
        .post(registry.url("/berth/v1/gc?grace=0s&untagged=delete&orphaned_referrers=delete"))
        .send()
        .await
        .unwrap();
    assert_eq!(gc.status(), 200);
    let report: Value = gc.json().await.unwrap();
    receiver
        .wait_for_type("/all", "dev.berth.collection.completed")
        .await;

    let requests = receiver.requests("/all");
    let events: Vec<Value> = requests.iter().map(|r| r.json()).collect();
    for (request, event) in requests.iter().zip(&events) {
        assert_eq!(request.status, 200);
        assert!(request
            .header("content-type")
            .starts_with("application/cloudevents+json"));
        assert_eq!(
            request.header("x-berth-signature"),
            format!(
                "sha256={}",
                hmac_sha256_hex(SECRET.as_bytes(), &request.body)
            ),
            "the signature covers the exact body"
        );
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["source"], "https://registry.test");
        assert_eq!(event["datacontenttype"], "application/json");
        let time = event["time"].as_str().unwrap();
        humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("time {time:?}: {e}"));
        assert_eq!(event["id"].as_str().unwrap().len(), 36, "a UUID: {event}");
    }
    once_in_outbox_order(&events);

    let summary: Vec<(&str, &str, Value)> = events
        .iter()
        .map(|e| {
            let d = &e["data"];
            let what = d["tag"].as_str().or(d["digest"].as_str()).unwrap_or("");
            (e["type"].as_str().unwrap(), what, d["reason"].clone())
        })
        .collect();
    let null = Value::Null;
    let expected_before_gc = vec![
        (
            "dev.berth.manifest.pushed",
            first.digest.as_str(),
            null.clone(),
        ),
        ("dev.berth.tag.moved", "v1", null.clone()),
        (
            "dev.berth.manifest.pushed",
            second.digest.as_str(),
            null.clone(),
        ),
        ("dev.berth.tag.moved", "v1", null.clone()),
        (
            "dev.berth.manifest.pushed",
            sig_digest.as_str(),
            null.clone(),
        ),
        (
            "dev.berth.referrer.attached",
            sig_digest.as_str(),
            null.clone(),
        ),
        (
            "dev.berth.manifest.pushed",
            elsewhere.digest.as_str(),
            null.clone(),
        ),
        ("dev.berth.tag.moved", "v1", null.clone()),
        ("dev.berth.tag.deleted", "v1", json!("client")),
        (
            "dev.berth.manifest.deleted",
            first.digest.as_str(),
            json!("client"),
        ),
    ];
    assert_eq!(summary[..10], expected_before_gc[..], "{events:#?}");
    // The collection deleted the untagged image and its signature, then summed up.
    let collected: BTreeSet<&str> = summary[10..summary.len() - 1]
        .iter()
        .map(|(kind, digest, reason)| {
            assert_eq!(
                (*kind, reason),
                ("dev.berth.manifest.deleted", &json!("collection"))
            );
            *digest
        })
        .collect();
    // The signature goes with its subject, in this collection or (when it came first) the next.
    assert!(collected.contains(second.digest.as_str()), "{collected:?}");
    assert!(collected.is_subset(&BTreeSet::from([
        second.digest.as_str(),
        sig_digest.as_str()
    ])));
    assert_eq!(report["manifests_deleted"], collected.len());
    let completed = events.last().unwrap();
    assert_eq!(completed["type"], "dev.berth.collection.completed");
    assert!(completed.get("subject").is_none());
    assert_eq!(
        completed["data"]["manifestsDeleted"],
        report["manifests_deleted"]
    );
    assert_eq!(completed["data"]["bytesFreed"], report["bytes_freed"]);

    // Data of each kind (an image's artifact type is its config's media type, as the referrers
    // API lists it).
    assert_eq!(
        events[0]["data"],
        json!({"repository": "prod/app", "digest": first.digest, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "size": first.manifest.len(), "artifactType": "application/vnd.oci.image.config.v1+json",
               "subject": null, "tags": ["v1"]})
    );
    assert_eq!(events[0]["subject"], format!("prod/app@{}", first.digest));
    assert_eq!(
        events[3]["data"],
        json!({"repository": "prod/app", "tag": "v1", "digest": second.digest, "previousDigest": first.digest})
    );
    assert_eq!(events[3]["subject"], "prod/app:v1");
    assert_eq!(
        events[5]["data"],
        json!({"repository": "prod/app", "subject": second.digest, "digest": sig_digest,
               "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": sig.len(),
               "artifactType": "application/vnd.example.signature"})
    );
    assert_eq!(events[5]["subject"], format!("prod/app@{}", second.digest));
    assert_eq!(events[8]["data"]["digest"], second.digest);

    // The filtered endpoint got the referrer and the tag deletion of prod/*, nothing else, and
    // no signature header (it has no secret).
    receiver
        .wait_for("/prod", "two events", |r| r.len() >= 2)
        .await;
    let prod = receiver.requests("/prod");
    let kinds: Vec<Value> = prod.iter().map(|r| r.json()["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            json!("dev.berth.referrer.attached"),
            json!("dev.berth.tag.deleted")
        ]
    );
    assert!(prod
        .iter()
        .all(|r| r.header("x-berth-signature").is_empty()));
    assert_eq!(
        prod[0].json()["id"],
        events[5]["id"],
        "one event, one id everywhere"
    );

    // Nothing is left pending or dead.
    for name in ["all", "prod-referrers"] {
        let state = wait_passed(&registry, name).await;
        assert_eq!(state["dead"], json!([]), "{state}");
    }
}
