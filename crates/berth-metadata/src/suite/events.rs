//! The event outbox: every change records its events in its own transaction, in commit order,
//! and each endpoint's cursor, dead letters and pruning behave alike on every backend.

use std::sync::Arc;

use berth_oci::{Digest, Reference};
use serde_json::{json, Value};

use super::{manifest, repo, tag};
use crate::events::{self, DeadLetter, NewEvent, StoredEvent};
use crate::{MetadataError, MetadataStore, Precondition};

fn data(event: &StoredEvent) -> Value {
    serde_json::from_str(&event.data).expect("event data is JSON")
}

/// Every committed event after `endpoint`'s cursor. PostgreSQL holds back events committed
/// after a transaction that still runs anywhere on the server (tests in other schemas share
/// it), until that one ends: read again until the listing holds every committed event.
async fn pending(store: &dyn MetadataStore, endpoint: &str) -> Vec<StoredEvent> {
    for _ in 0..3000 {
        let committed = store.count_events_after_cursor(endpoint).await.unwrap();
        let listed = store
            .events_after_cursor(endpoint, None, 100_000)
            .await
            .unwrap();
        if listed.len() as u64 == committed {
            return listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("events of {endpoint} stay held back");
}

async fn pass_all(store: &dyn MetadataStore, endpoint: &str) {
    if let Some(last) = pending(store, endpoint).await.last() {
        store.pass_event(endpoint, last.seq, None).await.unwrap();
    }
}

pub async fn changes_record_their_events_in_commit_order(store: &dyn MetadataStore) {
    let endpoint = "suite-events";
    let r = repo("events/app");
    // Cursors open after the events visible now; make every committed one visible first.
    pending(store, "suite-settle").await;
    store.open_event_cursor(endpoint).await.unwrap();
    assert_eq!(store.count_events_after_cursor(endpoint).await.unwrap(), 0);
    let mut watch = store.watch_events();
    watch.mark_unchanged();

    let layer = Digest::sha256_of(b"events layer");
    store.link_blob(&r, &layer, 12).await.unwrap();
    let first = manifest("{\"events\":1}", vec![layer.clone()], vec![]);
    let second = manifest("{\"events\":2}", vec![layer.clone()], vec![]);
    store
        .put_manifest(&r, &first, &[tag("v1"), tag("a"), tag("v1")], None)
        .await
        .unwrap();
    assert!(watch.has_changed().unwrap(), "a push wakes the dispatchers");
    store
        .put_manifest(&r, &second, &[tag("v1")], None)
        .await
        .unwrap();
    // The same push again changes nothing, so it reports nothing.
    store
        .put_manifest(&r, &second, &[tag("v1")], None)
        .await
        .unwrap();
    // Refused writes record nothing.
    let absent = Arc::new(|current: Option<crate::CurrentState<'_>>| current.is_none());
    let refused = store
        .put_manifest(
            &r,
            &manifest("{\"events\":3}", vec![layer.clone()], vec![]),
            &[tag("v1")],
            Some(&Precondition {
                target: Reference::Tag(tag("v1")),
                holds: absent,
            }),
        )
        .await;
    assert!(matches!(refused, Err(MetadataError::PreconditionFailed(_))));
    let missing = manifest("{\"events\":4}", vec![Digest::sha256_of(b"nope")], vec![]);
    assert!(store.put_manifest(&r, &missing, &[], None).await.is_err());
    let mut signature = manifest("{\"events\":\"sig\"}", vec![layer.clone()], vec![]);
    signature.subject = Some(second.digest.clone());
    signature.artifact_type = Some("application/vnd.dev.cosign.simplesigning.v1+json".into());
    store.put_manifest(&r, &signature, &[], None).await.unwrap();

    let events = pending(store, endpoint).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            events::MANIFEST_PUSHED,
            events::TAG_MOVED,
            events::TAG_MOVED,
            events::MANIFEST_PUSHED,
            events::TAG_MOVED,
            events::MANIFEST_PUSHED,
            events::REFERRER_ATTACHED,
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let mut ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
    assert!(events.iter().all(|e| e.id.len() == 36 && e.time > 0));
    assert!(events
        .iter()
        .all(|e| e.repository.as_deref() == Some("events/app")));
    assert_eq!(
        data(&events[0]),
        json!({
            "repository": "events/app", "digest": first.digest.as_str(),
            "mediaType": first.media_type, "size": first.body.len(),
            "artifactType": null, "subject": null, "tags": ["a", "v1"],
        })
    );
    assert_eq!(
        events[0].subject.as_deref(),
        Some(format!("events/app@{}", first.digest).as_str())
    );
    assert_eq!(
        (data(&events[1]), data(&events[2])),
        (
            json!({"repository": "events/app", "tag": "a", "digest": first.digest.as_str(), "previousDigest": null}),
            json!({"repository": "events/app", "tag": "v1", "digest": first.digest.as_str(), "previousDigest": null}),
        )
    );
    assert_eq!(events[2].subject.as_deref(), Some("events/app:v1"));
    assert_eq!(
        data(&events[4]),
        json!({"repository": "events/app", "tag": "v1", "digest": second.digest.as_str(),
               "previousDigest": first.digest.as_str()})
    );
    assert_eq!(
        data(&events[6]),
        json!({
            "repository": "events/app", "subject": second.digest.as_str(),
            "digest": signature.digest.as_str(), "mediaType": signature.media_type,
            "size": signature.body.len(),
            "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json",
        })
    );

    // Deletions, by a client, by the collector and by retention.
    pass_all(store, endpoint).await;
    assert!(store.delete_tag(&r, &tag("a"), None).await.unwrap());
    assert!(!store.delete_tag(&r, &tag("a"), None).await.unwrap());
    store
        .put_manifest(&r, &first, &[tag("old")], None)
        .await
        .unwrap();
    assert!(store
        .delete_manifest(&r, &first.digest, None)
        .await
        .unwrap());
    let untagged = manifest("{\"events\":\"untagged\"}", vec![layer.clone()], vec![]);
    store.put_manifest(&r, &untagged, &[], None).await.unwrap();
    assert!(store
        .delete_unreachable_manifest(&r, &untagged.digest)
        .await
        .unwrap());
    let graph = store.manifest_graph(&r).await.unwrap();
    let v1 = graph.tags.iter().find(|t| t.name == "v1").unwrap();
    assert!(store
        .delete_tag_if_unchanged(&r, "v1", &v1.digest, v1.updated_at)
        .await
        .unwrap());
    store
        .append_event(&NewEvent::collection_completed(
            json!({"manifestsDeleted": 1}),
        ))
        .await
        .unwrap();
    let events = pending(store, endpoint).await;
    let summary: Vec<(&str, Value)> = events
        .iter()
        .map(|e| {
            let d = data(e);
            (
                e.kind.as_str(),
                d.get("reason").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (events::TAG_DELETED, json!("client")),
            // `first` is still stored: pushing it again only moves the tag.
            (events::TAG_MOVED, Value::Null),
            (events::MANIFEST_DELETED, json!("client")),
            (events::TAG_DELETED, json!("client")),
            (events::MANIFEST_PUSHED, Value::Null),
            (events::MANIFEST_DELETED, json!("collection")),
            (events::TAG_DELETED, json!("retention")),
            (events::COLLECTION_COMPLETED, Value::Null),
        ]
    );
    assert_eq!(data(&events[0])["digest"], json!(first.digest.as_str()));
    assert_eq!(data(&events[2])["tags"], json!(["old"]));
    assert_eq!(data(&events[3])["tag"], json!("old"));
    assert_eq!(data(&events[6])["digest"], json!(second.digest.as_str()));
    assert_eq!(events[7].repository, None);
    assert_eq!(data(&events[7]), json!({"manifestsDeleted": 1}));
}

pub async fn cursors_dead_letters_and_pruning(store: &dyn MetadataStore) {
    let (endpoint, other) = ("suite-cursor", "suite-cursor-late");
    let r = repo("events/cursor");
    pending(store, "suite-settle").await;
    store.open_event_cursor(endpoint).await.unwrap();
    for n in 0..5 {
        store
            .append_event(&NewEvent {
                kind: events::TAG_MOVED.into(),
                repository: Some(r.to_string()),
                subject: None,
                data: json!({"n": n}),
            })
            .await
            .unwrap();
    }
    assert_eq!(store.count_events_after_cursor(endpoint).await.unwrap(), 5);
    assert_eq!(pending(store, endpoint).await.len(), 5);
    let page = store.events_after_cursor(endpoint, None, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(data(&page[0]), json!({"n": 0}));
    // A reader that passed events without saving reads on after them; the cursor stays.
    let on = store
        .events_after_cursor(endpoint, Some(page[1].seq), 10)
        .await
        .unwrap();
    let on: Vec<_> = on.iter().map(data).collect();
    assert_eq!(on, [json!({"n": 2}), json!({"n": 3}), json!({"n": 4})]);
    assert_eq!(store.count_events_after_cursor(endpoint).await.unwrap(), 5);
    store.pass_event(endpoint, page[0].seq, None).await.unwrap();
    let dead = DeadLetter {
        attempts: 3,
        last_error: "HTTP 500".into(),
    };
    store
        .pass_event(endpoint, page[1].seq, Some(&dead))
        .await
        .unwrap();
    // A cursor never moves back.
    store.pass_event(endpoint, page[0].seq, None).await.unwrap();
    let rest = pending(store, endpoint).await;
    assert_eq!(rest.len(), 3);
    assert_eq!(data(&rest[0]), json!({"n": 2}));
    let dead_events = store.dead_events(endpoint, 10).await.unwrap();
    assert_eq!(dead_events.len(), 1);
    assert_eq!(dead_events[0].event, page[1]);
    assert_eq!(
        (dead_events[0].attempts, dead_events[0].last_error.as_str()),
        (3, "HTTP 500")
    );
    assert!(dead_events[0].dead_at > 0);

    // A cursor opened late starts after what is committed, and opening it again keeps it.
    pending(store, "suite-settle").await;
    store.open_event_cursor(other).await.unwrap();
    assert_eq!(store.count_events_after_cursor(other).await.unwrap(), 0);
    store
        .append_event(&NewEvent::collection_completed(json!({})))
        .await
        .unwrap();
    store.open_event_cursor(other).await.unwrap();
    assert_eq!(store.count_events_after_cursor(other).await.unwrap(), 1);

    // Pruning keeps what any listed endpoint has not passed, and dead letters until they age.
    let now = store.now_millis().await.unwrap();
    let endpoints = [endpoint.to_owned(), other.to_owned()];
    let before_prune = pending(store, endpoint).await;
    let pruned = store
        .prune_events(&endpoints, now - 3_600_000)
        .await
        .unwrap();
    assert_eq!(pruned, 0, "nothing is older than an hour");
    store.prune_events(&endpoints, now + 60_000).await.unwrap();
    assert_eq!(pending(store, endpoint).await, before_prune);
    assert!(
        store.dead_events(endpoint, 10).await.unwrap().is_empty(),
        "dead letters older than the cut are pruned"
    );
    // An endpoint that never opened a cursor sees only what was kept.
    assert_eq!(
        store
            .count_events_after_cursor("suite-nobody")
            .await
            .unwrap(),
        before_prune.len() as u64
    );
    // Seqs are not given again after pruning.
    pass_all(store, endpoint).await;
    pass_all(store, other).await;
    store.prune_events(&endpoints, now + 60_000).await.unwrap();
    assert_eq!(
        store
            .count_events_after_cursor("suite-nobody")
            .await
            .unwrap(),
        0
    );
    store
        .append_event(&NewEvent::collection_completed(json!({"after": "prune"})))
        .await
        .unwrap();
    assert_eq!(store.count_events_after_cursor(endpoint).await.unwrap(), 1);
}
