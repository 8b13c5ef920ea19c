//! Poll mode, for networks PagerDuty's webhooks cannot reach: every interval, list triggered
//! incidents through the REST API and admit each like a delivery (the incident cooldown
//! de-duplicates: an incident still triggered on the next poll is not captured again).
use super::{Shared, log};
use crate::pagerduty::{IncidentFilter, IncidentStatus};
use crate::runbook::IncidentFacts;
use std::{sync::Arc, time::Duration};

/// Incidents looked at per poll, at most.
const MAX_PER_POLL: usize = 100;

pub(super) async fn poll(every: Duration, shared: Arc<Shared>) {
    let client = match crate::autorun::pagerduty_client(&shared.config).await {
        Ok(client) => client,
        Err(e) => {
            log(serde_json::json!({"kind": "poll", "outcome": "failed", "error": e.to_string()}));
            return;
        }
    };
    let filter = IncidentFilter {
        statuses: vec![IncidentStatus::Triggered],
        ..IncidentFilter::default()
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let incidents = match client.list_all_incidents(&filter, MAX_PER_POLL).await {
            Ok(list) => list,
            Err(e) => {
                log(
                    serde_json::json!({"kind": "poll", "outcome": "failed", "error": e.to_string()}),
                );
                continue;
            }
        };
        for incident in &incidents {
            if crate::model::IncidentId::new(incident.id.clone()).is_err() {
                continue;
            }
            let facts = IncidentFacts::from_pagerduty(incident);
            let outcome = match shared.admit(None, &facts).await {
                Ok(admission) => admission.label().to_string(),
                Err(e) => e.to_string(),
            };
            log(serde_json::json!({"kind": "poll", "incident": facts.id, "outcome": outcome}));
        }
    }
}
