//! The CloudEvents 1.0 envelope of an outbox event, in structured content mode (CloudEvents
//! JSON Event Format, section 3): the whole event, attributes and data, is the request body.

use std::time::{Duration, UNIX_EPOCH};

use berth_metadata::events::StoredEvent;
use serde_json::{json, Value};

/// The media type of a structured-mode CloudEvents JSON body (JSON Event Format, section 3).
pub const CONTENT_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// The envelope of `event`: `specversion` "1.0"; `id` the event's UUID (the same on every
/// attempt, so receivers drop repeats by `source` + `id`); `source` the registry (`source`);
/// `type` such as `dev.berth.manifest.pushed`; `subject` `repo:tag` or `repo@digest` when the
/// event has one; `time` RFC 3339 with milliseconds, UTC; `datacontenttype`
/// `application/json`; `data` the event's JSON object. Berth's extension attribute
/// `berthseq` gives the event's place in the outbox.
pub fn envelope(event: &StoredEvent, source: &str) -> Value {
    let time = UNIX_EPOCH + Duration::from_millis(event.time.max(0) as u64);
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let mut envelope = json!({
        "specversion": "1.0",
        "id": event.id,
        "source": source,
        "type": event.kind,
        "time": humantime::format_rfc3339_millis(time).to_string(),
        "datacontenttype": "application/json",
        "berthseq": event.seq,
        "data": data,
    });
    if let Some(subject) = &event.subject {
        envelope["subject"] = json!(subject);
    }
    envelope
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
