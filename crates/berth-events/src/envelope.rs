//! The CloudEvents 1.0 envelope of an outbox event, in structured content mode (CloudEvents
//! JSON Event Format, section 3): the whole event, attributes and data, is the request body;
//! or several envelopes in batched content mode (section 4): a JSON array of them.

use std::time::{Duration, UNIX_EPOCH};

use berth_metadata::events::StoredEvent;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The media type of a structured-mode CloudEvents JSON body (JSON Event Format, section 3).
pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// The media type of a batched-mode CloudEvents JSON body (JSON Event Format, section 4).
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json; charset=utf-8";

/// The envelope of an outbox event, serialised as it is sent: its `data` is the recorded
/// JSON text, written out as it is rather than parsed and built again, since a busy registry
/// sends thousands of these a second.
#[derive(Serialize)]
struct Envelope<'a> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    time: String,
    datacontenttype: &'static str,
    berthseq: i64,
    /// `null` for data that is not JSON (never recorded so).
    data: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    fn of(event: &'a StoredEvent, source: &'a str) -> Envelope<'a> {
        let time = UNIX_EPOCH + Duration::from_millis(event.time.max(0) as u64);
        Envelope {
            specversion: "1.0",
            id: &event.id,
            source,
            kind: &event.kind,
            subject: event.subject.as_deref(),
            time: humantime::format_rfc3339_millis(time).to_string(),
            datacontenttype: "application/json",
            berthseq: event.seq,
            data: serde_json::from_str(&event.data).ok(),
        }
    }
}

/// The envelope of `event`: `specversion` "1.0"; `id` the event's UUID (the same on every
/// attempt, so receivers drop repeats by `source` + `id`); `source` the registry (`source`);
/// `type` such as `dev.berth.manifest.pushed`; `subject` `repo:tag` or `repo@digest` when the
/// event has one; `time` RFC 3339 with milliseconds, UTC; `datacontenttype`
/// `application/json`; `data` the event's JSON object. Berth's extension attribute
/// `berthseq` gives the event's place in the outbox.
pub fn envelope(event: &StoredEvent, source: &str) -> Value {
    serde_json::to_value(Envelope::of(event, source)).expect("an envelope serialises")
}

/// The request body carrying `events` and its media type: one event in structured mode when
/// `batched` is false (then `events` holds exactly one), otherwise a JSON array of envelopes
/// in commit order.
pub fn body(events: &[&StoredEvent], source: &str, batched: bool) -> (String, &'static str) {
    let text = |result: serde_json::Result<String>| result.expect("an envelope serialises");
    if batched {
        let envelopes: Vec<Envelope> = events.iter().map(|e| Envelope::of(e, source)).collect();
        (text(serde_json::to_string(&envelopes)), BATCH_CONTENT_TYPE)
    } else {
        debug_assert_eq!(events.len(), 1, "structured mode carries one event");
        let envelope = Envelope::of(events[0], source);
        (text(serde_json::to_string(&envelope)), CONTENT_TYPE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn carries_the_required_and_optional_attributes() {
        let event = StoredEvent {
            seq: 7,
            id: "0190f3a4-0000-7000-8000-000000000000".into(),
            kind: "dev.berth.tag.moved".into(),
            repository: Some("a/b".into()),
            subject: Some("a/b:v1".into()),
            time: 1_700_000_000_123,
            data: r#"{"tag":"v1"}"#.into(),
        };
        assert_eq!(
            envelope(&event, "https://registry.example"),
            json!({
                "specversion": "1.0",
                "id": "0190f3a4-0000-7000-8000-000000000000",
                "source": "https://registry.example",
                "type": "dev.berth.tag.moved",
                "subject": "a/b:v1",
                "time": "2023-11-14T22:13:20.123Z",
                "datacontenttype": "application/json",
                "berthseq": 7,
                "data": {"tag": "v1"},
            })
        );
    }

    #[test]
    fn a_batch_is_an_array_of_envelopes_in_order_and_a_single_event_is_not() {
        let event = |seq: i64| StoredEvent {
            seq,
            id: format!("id-{seq}"),
            kind: "dev.berth.tag.moved".into(),
            repository: Some("a/b".into()),
            subject: None,
            time: 0,
            data: "{}".into(),
        };
        let (one, two) = (event(1), event(2));
        let (text, content_type) = body(&[&one, &two], "berth", true);
        assert_eq!(content_type, BATCH_CONTENT_TYPE);
        let batch: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            batch,
            json!([envelope(&one, "berth"), envelope(&two, "berth")])
        );
        let (text, content_type) = body(&[&one], "berth", false);
        assert_eq!(content_type, CONTENT_TYPE);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            envelope(&one, "berth")
        );
    }
}
