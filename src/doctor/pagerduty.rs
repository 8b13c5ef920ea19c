//! The PagerDuty check: the REST API token (`destinations.pagerduty_token_secret` or
//! `PAGERDUTY_TOKEN`) can read incidents: `GET /incidents?limit=1`, the request the incident
//! picker and `watch` poll mode make, with the same client.
use super::{Check, Kind, seconds};
use crate::config::Config;
use crate::pagerduty::{IncidentFilter, PagerDuty, PagerDutyError, PagerDutySettings, TOKEN_ENV};
use std::time::Duration;

pub async fn check(config: &Config, timeout: Duration) -> Check {
    if config.destinations.pagerduty_token_secret.is_none()
        && crate::secret::SecretValue::from_env(TOKEN_ENV).is_none()
    {
        return Check::skip(
            Kind::Pagerduty,
            "pagerduty",
            format!(
                "no token configured (destinations.pagerduty_token_secret or {TOKEN_ENV}): incidents come from incidents.toml only"
            ),
        );
    }
    // Resolving the token may run a secret command: off the async threads.
    let settings = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || PagerDutySettings::from_config(&config)).await
    };
    let settings = match settings {
        Ok(Ok(settings)) => settings,
        Ok(Err(e)) => {
            return Check::fail(
                Kind::Pagerduty,
                "pagerduty",
                e.to_string(),
                "fix the token's secret (see the secrets checks)",
            );
        }
        Err(e) => {
            return Check::fail(Kind::Pagerduty, "pagerduty", e.to_string(), "run it again");
        }
    };
    let api = settings.api_url.clone();
    let mut client = match PagerDuty::new(&settings) {
        Ok(client) => client,
        Err(e) => return Check::fail(Kind::Pagerduty, api, e.to_string(), "fix the token"),
    };
    client.max_attempts = 1;
    let filter = IncidentFilter {
        statuses: Vec::new(),
        limit: 1,
        ..IncidentFilter::default()
    };
    let note = if settings.from.is_none() {
        " (note: notes on incidents also need destinations.pagerduty_from)"
    } else {
        ""
    };
    match tokio::time::timeout(timeout, client.list_incidents(&filter)).await {
        Ok(Ok(page)) => Check::ok(
            Kind::Pagerduty,
            api,
            format!(
                "the token can read incidents ({} listed){note}",
                page.total.unwrap_or(page.incidents.len() as u64)
            ),
        ),
        Ok(Err(e)) => {
            let fix = fix_for(&e);
            Check::fail(Kind::Pagerduty, api, e.to_string(), fix)
        }
        Err(_) => Check::fail(
            Kind::Pagerduty,
            api,
            format!("no answer within {}", seconds(timeout)),
            "check destinations.pagerduty_api_url and the network",
        ),
    }
}

fn fix_for(error: &PagerDutyError) -> String {
    match error {
        PagerDutyError::Api { status, .. } if status.as_u16() == 401 => {
            "the token is wrong or revoked: make a REST API key (read-only is enough) and point pagerduty_token_secret at it".into()
        }
        PagerDutyError::Api { status, .. } if status.as_u16() == 403 => {
            "the token may not read incidents: use a key with read access to incidents".into()
        }
        PagerDutyError::Api { .. } => "check destinations.pagerduty_api_url (it names the REST API base, e.g. https://api.pagerduty.com)".into(),
        PagerDutyError::Transport { .. } => {
            "check destinations.pagerduty_api_url (or PAGERDUTY_API_URL) and the network".into()
        }
        PagerDutyError::RateLimited { .. } => "try again in a minute".into(),
        PagerDutyError::Decode { .. } => {
            "check destinations.pagerduty_api_url: it does not look like PagerDuty's REST API".into()
        }
        PagerDutyError::Config(_) => "set destinations.pagerduty_token_secret".into(),
    }
}
