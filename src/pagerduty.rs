//! PagerDuty REST API v2 client: incidents (list with filters and pagination, get one) for the
//! TUI's incident picker, and incident notes (list, create) for export. One client for both.
//!
//! Headers are the ones the API description requires: `Authorization: Token token=…` (marked
//! sensitive, so `Debug` of a request never shows it), `Accept: application/json`,
//! `Content-Type: application/json` on every request (GET too), and `From` on writes.
//! A 429 is retried after the wait its `ratelimit-reset` (seconds) or `Retry-After` header gives.
use crate::config::{Config, Destinations};
use crate::secret::SecretValue;
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue},
};
use serde::{Deserialize, Serialize};
use std::{fmt, time::Duration};

/// PagerDuty's public API.
pub const DEFAULT_API_URL: &str = "https://api.pagerduty.com";
/// Environment variables read when the config does not say.
pub const TOKEN_ENV: &str = "PAGERDUTY_TOKEN";
pub const FROM_ENV: &str = "PAGERDUTY_FROM";
pub const API_URL_ENV: &str = "PAGERDUTY_API_URL";

/// What went wrong talking to PagerDuty.
#[derive(Debug, thiserror::Error)]
pub enum PagerDutyError {
    #[error("PagerDuty is not configured: {0}")]
    Config(String),
    #[error(
        "PagerDuty {method} {path}: cannot reach {base}: {detail} (check {API_URL_ENV} / destinations.pagerduty_api_url and the network)"
    )]
    Transport {
        method: Method,
        path: String,
        base: String,
        /// The error with its causes (connection refused, TLS, timeout).
        detail: String,
    },
    #[error("PagerDuty {method} {path} answered {status}: {message}{hint}")]
    Api {
        method: Method,
        path: String,
        status: StatusCode,
        message: String,
        hint: &'static str,
    },
    #[error("PagerDuty {method} {path}: unexpected response body: {source}")]
    Decode {
        method: Method,
        path: String,
        source: reqwest::Error,
    },
    #[error(
        "PagerDuty {method} {path}: still rate limited after {attempts} attempts; try again in a minute"
    )]
    RateLimited {
        method: Method,
        path: String,
        attempts: u32,
    },
}

/// Connection settings, resolved from config and environment.
#[derive(Clone)]
pub struct PagerDutySettings {
    pub api_url: String,
    pub token: SecretValue,
    /// Email of a PagerDuty user; required for writes (notes).
    pub from: Option<String>,
}

impl fmt::Debug for PagerDutySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagerDutySettings")
            .field("api_url", &self.api_url)
            .field("token", &self.token)
            .field("from", &self.from)
            .finish()
    }
}

impl PagerDutySettings {
    /// Token from `destinations.pagerduty_token_secret` (a secret reference) or `PAGERDUTY_TOKEN`;
    /// `From` from `destinations.pagerduty_from` or `PAGERDUTY_FROM`; the API base from
    /// `destinations.pagerduty_api_url` or `PAGERDUTY_API_URL`, else PagerDuty's.
    pub fn from_config(config: &Config) -> Result<PagerDutySettings, PagerDutyError> {
        let destinations: &Destinations = &config.destinations;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let token = match &destinations.pagerduty_token_secret {
            Some(name) => {
                let reference = config
                    .secrets
                    .get(name)
                    .ok_or_else(|| PagerDutyError::Config(format!("destinations.pagerduty_token_secret names `{name}`, which is not defined")))?;
                reference
                    .resolve(name)
                    .map_err(|e| PagerDutyError::Config(e.to_string()))?
            }
            None => SecretValue::from_env(TOKEN_ENV).ok_or_else(|| {
                PagerDutyError::Config(format!(
                    "no API token: set destinations.pagerduty_token_secret in casefile.toml or the {TOKEN_ENV} environment variable"
                ))
            })?,
        };
        let api_url = destinations
            .pagerduty_api_url
            .clone()
            .or_else(|| env(API_URL_ENV))
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let from = destinations
            .pagerduty_from
            .clone()
            .or_else(|| env(FROM_ENV));
        Ok(PagerDutySettings {
            api_url,
            token,
            from,
        })
    }
}

/// A reference to another PagerDuty object (service, team, user).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// The incident fields casefile uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdIncident {
    pub id: String,
    #[serde(default)]
    pub incident_number: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub service: Option<Reference>,
    #[serde(default)]
    pub teams: Vec<Reference>,
    /// `summary` is the priority's name, e.g. "P1" (runbooks match on it).
    #[serde(default)]
    pub priority: Option<Reference>,
}

/// An incident note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    #[serde(default)]
    pub id: Option<String>,
    pub content: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub user: Option<Reference>,
}

/// Incident states the API filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    Triggered,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Triggered => "triggered",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }
}

/// Filters and page for listing incidents. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFilter {
    pub statuses: Vec<IncidentStatus>,
    pub service_ids: Vec<String>,
    pub team_ids: Vec<String>,
    /// Page size (PagerDuty caps it at 100).
    pub limit: u32,
    pub offset: u32,
}

impl Default for IncidentFilter {
    /// Open incidents (triggered or acknowledged), 25 per page: what a responder picks from.
    fn default() -> Self {
        IncidentFilter {
            statuses: vec![IncidentStatus::Triggered, IncidentStatus::Acknowledged],
            service_ids: Vec::new(),
            team_ids: Vec::new(),
            limit: 25,
            offset: 0,
        }
    }
}

impl IncidentFilter {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![
            ("limit", self.limit.clamp(1, 100).to_string()),
            ("offset", self.offset.to_string()),
            ("total", "true".into()),
        ];
        query.extend(
            self.statuses
                .iter()
                .map(|s| ("statuses[]", s.as_str().to_string())),
        );
        query.extend(
            self.service_ids
                .iter()
                .map(|s| ("service_ids[]", s.clone())),
        );
        query.extend(self.team_ids.iter().map(|s| ("team_ids[]", s.clone())));
        query
    }
}

/// One page of incidents.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IncidentPage {
    pub incidents: Vec<PdIncident>,
    #[serde(default)]
    pub more: bool,
    #[serde(default)]
    pub offset: u32,
    #[serde(default)]
    pub limit: u32,
    #[serde(default)]
    pub total: Option<u64>,
}

/// The client. Cheap to clone (reqwest's pool is shared).
#[derive(Clone)]
pub struct PagerDuty {
    http: reqwest::Client,
    base: String,
    from: Option<String>,
    /// Attempts for a rate-limited request before giving up.
    pub max_attempts: u32,
    /// Longest wait casefile accepts from a rate-limit header.
    pub max_wait: Duration,
}

impl fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagerDuty")
            .field("base", &self.base)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct IncidentBody {
    incident: PdIncident,
}

#[derive(Deserialize)]
struct NotesBody {
    notes: Vec<Note>,
}

#[derive(Deserialize)]
struct NoteBody {
    note: Note,
}

impl PagerDuty {
    pub fn new(settings: &PagerDutySettings) -> Result<PagerDuty, PagerDutyError> {
        let mut auth = HeaderValue::from_str(&format!("Token token={}", settings.token.expose()))
            .map_err(|_| {
            PagerDutyError::Config(
                "the API token holds characters that cannot go in an HTTP header".into(),
            )
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("casefile/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| PagerDutyError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(PagerDuty {
            http,
            base: settings.api_url.trim_end_matches('/').to_string(),
            from: settings.from.clone(),
            max_attempts: 5,
            max_wait: Duration::from_secs(60),
        })
    }

    /// Resolves settings from config/env and builds a client.
    pub fn from_config(config: &Config) -> Result<PagerDuty, PagerDutyError> {
        PagerDuty::new(&PagerDutySettings::from_config(config)?)
    }

    /// One page of incidents matching `filter`.
    pub async fn list_incidents(
        &self,
        filter: &IncidentFilter,
    ) -> Result<IncidentPage, PagerDutyError> {
        self.send(Method::GET, "/incidents", &filter.query(), None)
            .await
    }

    /// Every incident matching `filter` from its offset on, following `more`, up to `max`.
    pub async fn list_all_incidents(
        &self,
        filter: &IncidentFilter,
        max: usize,
    ) -> Result<Vec<PdIncident>, PagerDutyError> {
        let mut filter = filter.clone();
        let mut all = Vec::new();
        loop {
            let page = self.list_incidents(&filter).await?;
            let got = page.incidents.len();
            all.extend(page.incidents);
            if !page.more || got == 0 || all.len() >= max {
                break;
            }
            filter.offset += got as u32;
        }
        all.truncate(max);
        Ok(all)
    }

    pub async fn get_incident(&self, id: &str) -> Result<PdIncident, PagerDutyError> {
        let body: IncidentBody = self
            .send(
                Method::GET,
                &format!("/incidents/{}", path_segment(id)),
                &[],
                None,
            )
            .await?;
        Ok(body.incident)
    }

    pub async fn list_notes(&self, incident_id: &str) -> Result<Vec<Note>, PagerDutyError> {
        let body: NotesBody = self
            .send(
                Method::GET,
                &format!("/incidents/{}/notes", path_segment(incident_id)),
                &[],
                None,
            )
            .await?;
        Ok(body.notes)
    }

    /// Adds a note; needs `From` (a PagerDuty user's email).
    pub async fn create_note(
        &self,
        incident_id: &str,
        content: &str,
    ) -> Result<Note, PagerDutyError> {
        let path = format!("/incidents/{}/notes", path_segment(incident_id));
        if self.from.is_none() {
            return Err(PagerDutyError::Config(format!(
                "adding a note needs the email of a PagerDuty user: set destinations.pagerduty_from or {FROM_ENV}"
            )));
        }
        let body = serde_json::json!({ "note": { "content": content } });
        let body: NoteBody = self.send(Method::POST, &path, &[], Some(body)).await?;
        Ok(body.note)
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<T, PagerDutyError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), &url).query(query);
            if method != Method::GET
                && let Some(from) = &self.from
            {
                request = request.header("From", from);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .map_err(|source| PagerDutyError::Transport {
                    method: method.clone(),
                    path: path.to_string(),
                    base: self.base.clone(),
                    detail: error_chain(&source),
                })?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                if attempt >= self.max_attempts {
                    return Err(PagerDutyError::RateLimited {
                        method,
                        path: path.to_string(),
                        attempts: attempt,
                    });
                }
                let wait = rate_limit_wait(response.headers(), attempt).min(self.max_wait);
                tracing::info!(%method, path, wait_ms = wait.as_millis() as u64, "PagerDuty rate limit; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                return Err(PagerDutyError::Api {
                    method,
                    path: path.to_string(),
                    status,
                    message: error_message(&text),
                    hint: match status.as_u16() {
                        401 => " (check the API token)",
                        403 => " (the token's user may not access this incident)",
                        404 => " (check the incident id)",
                        400 => {
                            " (PagerDuty rejected the request; is `From` a PagerDuty user's email?)"
                        }
                        _ => "",
                    },
                });
            }
            return response
                .json::<T>()
                .await
                .map_err(|source| PagerDutyError::Decode {
                    method,
                    path: path.to_string(),
                    source,
                });
        }
    }
}

/// How long to wait before retrying a 429: `ratelimit-reset` (seconds), else `Retry-After`
/// (seconds), else an exponential backoff from one second.
pub fn rate_limit_wait(headers: &HeaderMap, attempt: u32) -> Duration {
    let seconds = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    match seconds("ratelimit-reset").or_else(|| seconds("retry-after")) {
        Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s),
        _ => Duration::from_secs(1 << attempt.saturating_sub(1).min(5)),
    }
}

/// PagerDuty's error body is `{"error": {"message": …, "errors": […]}}`; other bodies are cut short.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }
    #[derive(Deserialize)]
    struct ErrorDetail {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) if b.error.errors.is_empty() => b.error.message,
        Ok(b) => format!("{}: {}", b.error.message, b.error.errors.join("; ")),
        Err(_) => body.chars().take(300).collect(),
    }
}

/// An error and its causes, each once.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// Keeps an id from changing the request path.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_wait_prefers_ratelimit_reset_then_retry_after() {
        let mut headers = HeaderMap::new();
        assert_eq!(rate_limit_wait(&headers, 1), Duration::from_secs(1));
        assert_eq!(rate_limit_wait(&headers, 3), Duration::from_secs(4));
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(&headers, 1), Duration::from_secs(7));
        headers.insert("ratelimit-reset", HeaderValue::from_static("2"));
        assert_eq!(rate_limit_wait(&headers, 1), Duration::from_secs(2));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let settings = PagerDutySettings {
            api_url: "http://127.0.0.1:1".into(),
            token: SecretValue::new("y_NbAkKc66ryYTWUXYEu".into()),
            from: Some("a@example.com".into()),
        };
        let client = PagerDuty::new(&settings).expect("client");
        for text in [format!("{settings:?}"), format!("{client:?}")] {
            assert!(!text.contains("y_NbAkKc66ryYTWUXYEu"), "{text}");
        }
        assert_eq!(path_segment("PT4KHLK/../x?y"), "PT4KHLKxy");
    }
}
