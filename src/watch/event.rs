//! The parts of a PagerDuty v3 webhook payload the watcher reads: the event type and, for
//! incident events, the incident's facts (id, title, service, urgency, priority).
use crate::runbook::IncidentFacts;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Payload {
    event: Event,
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    id: Option<String>,
    event_type: String,
    #[serde(default)]
    resource_type: Option<String>,
    data: serde_json::Value,
}

/// A delivery, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: Option<String>,
    pub event_type: String,
    /// Set for events whose data is an incident.
    pub incident: Option<IncidentFacts>,
}

/// Parses the body; `Err` is the reason for a 400.
pub fn parse(body: &[u8]) -> Result<Delivery, String> {
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| format!("not a v3 webhook payload: {e}"))?;
    let event = payload.event;
    let data = &event.data;
    let is_incident = event.resource_type.as_deref() == Some("incident")
        && data.get("type").and_then(|t| t.as_str()) == Some("incident");
    let incident = if is_incident {
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let id = data
            .get("id")
            .and_then(|v| v.as_str())
            .ok_or("the incident has no id")?;
        crate::model::IncidentId::new(id).map_err(|e| format!("incident id: {e}"))?;
        Some(IncidentFacts {
            id: id.to_string(),
            title: data.get("title").and_then(text),
            service_id: data.pointer("/service/id").and_then(text),
            service_name: data.pointer("/service/summary").and_then(text),
            urgency: data.get("urgency").and_then(text),
            priority: data.pointer("/priority/summary").and_then(text),
        })
    } else {
        None
    };
    Ok(Delivery {
        event_id: event.id,
        event_type: event.event_type,
        incident,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_example_payload() {
        let body = include_bytes!("../../tests/fixtures/pagerduty/example-incident-triggered.json");
        let delivery = parse(body).expect("valid");
        assert_eq!(delivery.event_type, "incident.triggered");
        let incident = delivery.incident.expect("incident");
        assert_eq!(incident.id, "PT4KHLK");
        assert_eq!(incident.service_name.as_deref(), Some("My Mail Service"));
        assert_eq!(incident.service_id.as_deref(), Some("PIJ90N7"));
        assert_eq!(incident.priority.as_deref(), Some("P1"));
        assert_eq!(incident.urgency.as_deref(), Some("high"));
        assert!(parse(b"{").is_err());
        assert!(parse(b"{\"event\":{}}").is_err());
        let bad_id = String::from_utf8_lossy(body).replace("\"PT4KHLK\"", "\"PT4 \\u001b[2J\"");
        assert!(
            parse(bad_id.as_bytes()).is_err(),
            "control characters in the id"
        );
    }
}
