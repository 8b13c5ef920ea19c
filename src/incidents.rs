//! Incident sources: where the incidents a capture can be for come from (PagerDuty when a
//! token is configured, else the local `incidents.toml`), and the recent captures found in the
//! capture folder. Front ends list them off their loop; nothing here knows about a screen.
use crate::config::Config;
use crate::pagerduty::{self, IncidentFilter, PagerDuty, PdIncident};
use crate::snapshot::{CaptureState, MANIFEST_FILE, Manifest};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

/// One incident as the screen lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentRow {
    /// Checked when incidents.toml is read (an error names line:col) or a PagerDuty row arrives.
    pub id: crate::model::IncidentId,
    pub title: String,
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default)]
    pub urgency: String,
    /// The service's name (PagerDuty's `service.summary`), or its id when it has no name.
    #[serde(default)]
    pub service: String,
    /// PagerDuty's service id (e.g. `PIJ90N7`); runbooks may name a service by id.
    #[serde(default)]
    pub service_id: String,
    /// The priority's name (e.g. `P1`), empty when the incident has none.
    #[serde(default)]
    pub priority: String,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Where the row came from (`local`, `pagerduty`); set by the source.
    #[serde(skip)]
    pub source: String,
}

fn default_status() -> String {
    "triggered".into()
}

/// Somewhere incidents come from. `list` runs on the runtime (network allowed); errors are
/// shown in the screen and never stop the ad-hoc path.
pub trait IncidentSource: Send + Sync {
    fn name(&self) -> &str;
    fn list(&self) -> BoxFuture<'static, Result<Vec<IncidentRow>, String>>;
}

/// `incidents.toml`: `[[incidents]] id, title, status, urgency, service, created_at`.
#[derive(Debug, Clone)]
pub struct LocalIncidents {
    pub path: PathBuf,
}

impl LocalIncidents {
    /// `$XDG_CONFIG_HOME/casefile/incidents.toml`.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("casefile").join("incidents.toml"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentsFile {
    #[serde(default)]
    incidents: Vec<IncidentRow>,
}

/// Parses `incidents.toml` text; errors name file:line:col.
pub fn parse_incidents(name: &str, text: &str) -> Result<Vec<IncidentRow>, String> {
    let file: IncidentsFile = toml::from_str(text)
        .map_err(|e| crate::source_error::SourceError::from_toml(name, text, &e).to_string())?;
    Ok(file
        .incidents
        .into_iter()
        .map(|r| IncidentRow {
            source: "local".into(),
            ..r
        })
        .collect())
}

impl IncidentSource for LocalIncidents {
    fn name(&self) -> &str {
        "incidents.toml"
    }

    fn list(&self) -> BoxFuture<'static, Result<Vec<IncidentRow>, String>> {
        let path = self.path.clone();
        Box::pin(async move {
            match tokio::fs::read_to_string(&path).await {
                Ok(text) => parse_incidents(&path.display().to_string(), &text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(format!("{}: {e}", path.display())),
            }
        })
    }
}

/// Open (triggered and acknowledged) incidents from the PagerDuty REST API.
#[derive(Debug, Clone)]
pub struct PagerDutyIncidents {
    pub client: PagerDuty,
    /// At most this many rows (pages are followed up to it).
    pub max: usize,
}

impl PagerDutyIncidents {
    /// A row, or None for an id that is not a valid incident id (it is logged, not shown).
    pub fn row(incident: PdIncident) -> Option<IncidentRow> {
        let id = crate::model::IncidentId::new(incident.id.as_str())
            .inspect_err(|e| tracing::warn!(id = ?incident.id, "PagerDuty incident skipped: {e}"))
            .ok()?;
        Some(IncidentRow {
            title: incident
                .title
                .or(incident.summary)
                .unwrap_or_else(|| "(untitled)".into()),
            status: incident.status.unwrap_or_default(),
            urgency: incident.urgency.unwrap_or_default(),
            service_id: incident
                .service
                .as_ref()
                .map(|s| s.id.clone())
                .unwrap_or_default(),
            priority: incident
                .priority
                .and_then(|p| p.summary)
                .unwrap_or_default(),
            service: incident
                .service
                .and_then(|s| s.summary.or(Some(s.id)))
                .unwrap_or_default(),
            created_at: incident.created_at,
            source: "pagerduty".into(),
            id,
        })
    }
}

impl IncidentSource for PagerDutyIncidents {
    fn name(&self) -> &str {
        "PagerDuty"
    }

    fn list(&self) -> BoxFuture<'static, Result<Vec<IncidentRow>, String>> {
        let (client, max) = (self.client.clone(), self.max);
        Box::pin(async move {
            let incidents = client
                .list_all_incidents(&IncidentFilter::default(), max)
                .await
                .map_err(|e| e.to_string())?;
            Ok(incidents
                .into_iter()
                .filter_map(PagerDutyIncidents::row)
                .collect())
        })
    }
}

/// PagerDuty as configured in casefile.toml. The token (maybe a secret command, a vault CLI)
/// is resolved on the first `list`, on a blocking thread, and the client kept: opening the
/// incidents screen again neither blocks the UI nor runs the command again. A token that does
/// not resolve is reported by `list` (shown in the screen); the ad-hoc path still works.
struct ConfiguredPagerDuty {
    config: Arc<Config>,
    client: Arc<tokio::sync::OnceCell<Result<PagerDuty, String>>>,
}

impl IncidentSource for ConfiguredPagerDuty {
    fn name(&self) -> &str {
        "PagerDuty"
    }

    fn list(&self) -> BoxFuture<'static, Result<Vec<IncidentRow>, String>> {
        let (config, client) = (Arc::clone(&self.config), Arc::clone(&self.client));
        Box::pin(async move {
            let client = client
                .get_or_init(|| async move {
                    tokio::task::spawn_blocking(move || {
                        PagerDuty::from_config(&config).map_err(|e| e.to_string())
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("resolving the PagerDuty token failed: {e}")))
                })
                .await
                .clone()?;
            PagerDutyIncidents { client, max: 200 }.list().await
        })
    }
}

/// True when the operator configured a PagerDuty token (config secret reference or
/// `PAGERDUTY_TOKEN`), whether or not it resolves.
pub fn pagerduty_configured(config: &Config) -> bool {
    config.destinations.pagerduty_token_secret.is_some()
        || std::env::var(pagerduty::TOKEN_ENV).is_ok_and(|v| !v.is_empty())
}

/// The sources the incidents screen asks, in order: PagerDuty when a token is configured,
/// otherwise the local `incidents.toml`. Cheap: nothing is resolved or read until `list`.
pub fn incident_sources(config: &Config) -> Vec<Arc<dyn IncidentSource>> {
    let mut sources: Vec<Arc<dyn IncidentSource>> = Vec::new();
    if pagerduty_configured(config) {
        sources.push(Arc::new(ConfiguredPagerDuty {
            config: Arc::new(config.clone()),
            client: Arc::new(tokio::sync::OnceCell::new()),
        }));
    } else if let Some(path) = LocalIncidents::default_path() {
        sources.push(Arc::new(LocalIncidents { path }));
    }
    sources
}

/// A snapshot folder found in the capture dir.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentCapture {
    pub dir: PathBuf,
    pub id: String,
    pub incident: Option<String>,
    pub started_at: String,
    pub state: CaptureState,
    pub streams: usize,
    pub failed: usize,
}

/// The newest snapshots under `dir` (at most `limit`), newest first. Blocking: call off the loop.
pub fn scan_captures(dir: &Path, limit: usize) -> Vec<RecentCapture> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .collect();
    dirs.sort();
    dirs.reverse();
    dirs.into_iter()
        .take(limit)
        .filter_map(|dir| {
            let m: Manifest = crate::snapshot::reader::read_manifest(&dir).ok()?;
            Some(RecentCapture {
                id: m.id.clone(),
                incident: m.incident.as_ref().map(|i| i.id.to_string()),
                started_at: m.started_at.clone(),
                state: m.state,
                streams: m.streams.len(),
                failed: m.failures().count(),
                dir,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_file_is_an_error_with_a_line() {
        let err = parse_incidents(
            "incidents.toml",
            "[[incidents]]\nid = \"x\"\ntitle = \"t\"\nurgent = 1\n",
        )
        .expect_err("unknown key");
        assert!(err.contains("incidents.toml:4"), "{err}");
    }

    #[tokio::test]
    async fn a_token_reference_that_does_not_resolve_is_an_error_on_screen_not_a_crash() {
        let config = Config::parse(
            "casefile.toml",
            r#"
[secrets.pd]
env = "CASEFILE_TEST_SURELY_UNSET_TOKEN_VAR"

[destinations]
pagerduty_token_secret = "pd"
"#,
        )
        .expect("config");
        assert!(pagerduty_configured(&config));
        let sources = incident_sources(&config);
        assert_eq!(sources.len(), 1, "PagerDuty replaces the local file");
        assert_eq!(sources[0].name(), "PagerDuty");
        let error = sources[0]
            .list()
            .await
            .expect_err("cannot resolve the token");
        assert!(
            error.contains("CASEFILE_TEST_SURELY_UNSET_TOKEN_VAR"),
            "names what to fix: {error}"
        );
    }

    #[test]
    fn pagerduty_incidents_become_rows() {
        let incident: PdIncident = serde_json::from_str(
            r#"{"id":"PT4KHLK","title":"The server is on fire.","status":"acknowledged",
                "urgency":"high","created_at":"2015-10-06T21:30:42Z",
                "service":{"id":"PIJ90N7","summary":"My Mail Service"}}"#,
        )
        .expect("incident");
        let row = PagerDutyIncidents::row(incident).expect("a valid id");
        assert_eq!(row.id, "PT4KHLK");
        assert_eq!(row.title, "The server is on fire.");
        assert_eq!(row.status, "acknowledged");
        assert_eq!(row.service, "My Mail Service");
        assert_eq!(row.source, "pagerduty");
    }
}
