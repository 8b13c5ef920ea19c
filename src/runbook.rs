//! Incident → plan: which `[[runbooks]]` entry an incident gets, and the plan request it makes.
//!
//! A runbook matches when every criterion it sets matches (service name or id, urgency,
//! priority, title regex); a runbook with no criteria matches every incident (a catch-all).
//! **Ties:** the most specific match wins (the one that sets the most criteria), then the one
//! written first in casefile.toml. So a catch-all at the top never hides a specific runbook.
use crate::config::{Config, Runbook};
use crate::model::{Incident, IncidentId};
use crate::planner::PlanRequest;
use crate::preset::PresetLibrary;
use crate::source_error::SourceError;
use crate::ssh::SshConfig;
use std::collections::BTreeMap;

/// What runbooks match on, from a webhook payload or the REST API.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IncidentFacts {
    pub id: String,
    pub title: Option<String>,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    pub urgency: Option<String>,
    pub priority: Option<String>,
}

impl IncidentFacts {
    pub fn from_pagerduty(incident: &crate::pagerduty::PdIncident) -> IncidentFacts {
        IncidentFacts {
            id: incident.id.clone(),
            title: incident.title.clone().or_else(|| incident.summary.clone()),
            service_id: incident.service.as_ref().map(|s| s.id.clone()),
            service_name: incident.service.as_ref().and_then(|s| s.summary.clone()),
            urgency: incident.urgency.clone(),
            priority: incident.priority.as_ref().and_then(|p| p.summary.clone()),
        }
    }

    /// The facts of an incident as the TUI lists it (PagerDuty or incidents.toml).
    pub fn from_row(row: &crate::incidents::IncidentRow) -> IncidentFacts {
        let present = |s: &str| (!s.is_empty()).then(|| s.to_string());
        IncidentFacts {
            id: row.id.to_string(),
            title: present(&row.title),
            service_id: present(&row.service_id),
            service_name: present(&row.service),
            urgency: present(&row.urgency),
            priority: present(&row.priority),
        }
    }
}

/// How many criteria a runbook sets (its specificity), if it matches `incident`.
pub fn matches(runbook: &Runbook, incident: &IncidentFacts) -> Option<usize> {
    let mut score = 0;
    if let Some(service) = &runbook.service {
        let by_name = incident.service_name.as_deref() == Some(service.as_str());
        let by_id = incident.service_id.as_deref() == Some(service.as_str());
        if !(by_name || by_id) {
            return None;
        }
        score += 1;
    }
    for (wanted, actual) in [
        (&runbook.urgency, &incident.urgency),
        (&runbook.priority, &incident.priority),
    ] {
        if let Some(wanted) = wanted {
            if !actual
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(wanted))
            {
                return None;
            }
            score += 1;
        }
    }
    if let Some(title) = &runbook.title {
        if !incident.title.as_deref().is_some_and(|t| title.is_match(t)) {
            return None;
        }
        score += 1;
    }
    Some(score)
}

/// The runbook for `incident`: the most specific match, then the first in file order.
pub fn select<'a>(runbooks: &'a [Runbook], incident: &IncidentFacts) -> Option<&'a Runbook> {
    let mut best: Option<(usize, &Runbook)> = None;
    for runbook in runbooks {
        if let Some(score) = matches(runbook, incident)
            && best.is_none_or(|(b, _)| score > b)
        {
            best = Some((score, runbook));
        }
    }
    best.map(|(_, r)| r)
}

/// A runbook by its name, or an error listing the names there are.
pub fn by_name<'a>(runbooks: &'a [Runbook], name: &str) -> Result<&'a Runbook, String> {
    runbooks.iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = runbooks.iter().map(|r| r.name.as_str()).collect();
        if names.is_empty() {
            format!("no runbook named `{name}`: casefile.toml has no [[runbooks]]")
        } else {
            format!("no runbook named `{name}`; runbooks: {}", names.join(", "))
        }
    })
}

/// The plan request a runbook makes for an incident (targets resolved like `--target`).
pub fn plan_request(
    runbook: &Runbook,
    incident: Option<&IncidentFacts>,
    config: &Config,
    ssh_config: &SshConfig,
) -> Result<PlanRequest, SourceError> {
    let mut targets = Vec::new();
    for (selector, place) in &runbook.targets {
        let found =
            crate::session::select_targets(config, ssh_config, std::slice::from_ref(selector))
                .map_err(|e| place.error(format!("runbook `{}`: {e}", runbook.name)))?;
        targets.extend(found);
    }
    let incident = match incident {
        None => None,
        Some(facts) => {
            let id = IncidentId::new(facts.id.clone()).map_err(|e| {
                runbook
                    .place
                    .error(format!("incident id `{}`: {e}", facts.id))
            })?;
            Some(Incident {
                id,
                title: facts.title.clone(),
                source: Some("pagerduty".into()),
            })
        }
    };
    Ok(PlanRequest {
        incident,
        targets,
        presets: runbook.presets.iter().map(|(p, _)| p.clone()).collect(),
        params: runbook.params.clone(),
        runs: runbook.runs.clone(),
        queries: runbook.queries.clone(),
        timeout: config.timeout,
        override_timeouts: false,
        max_bytes: config.max_bytes,
        allow_intrusive: runbook.allow_intrusive,
    })
}

/// Everything `casefile runbooks check` finds: unknown targets and presets, and plans that do
/// not build (a missing required parameter, a preset for another kind of target).
pub fn check(config: &Config, ssh_config: &SshConfig, library: &PresetLibrary) -> Vec<SourceError> {
    let mut problems = Vec::new();
    for runbook in &config.runbooks {
        for (preset, place) in &runbook.presets {
            if let Err(e) = library.get(preset) {
                problems.push(place.error(format!("runbook `{}`: {e}", runbook.name)));
            }
        }
        let request = match plan_request(runbook, None, config, ssh_config) {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        if problems.is_empty()
            && let Err(e) = crate::planner::build_plan(&request, library)
        {
            problems.push(
                runbook
                    .place
                    .error(format!("runbook `{}`: {e}", runbook.name)),
            );
        }
    }
    problems
}

/// `key=value` pairs for `runbooks list`.
pub fn criteria(runbook: &Runbook) -> String {
    let mut parts: BTreeMap<&str, String> = BTreeMap::new();
    if let Some(s) = &runbook.service {
        parts.insert("service", s.clone());
    }
    if let Some(u) = &runbook.urgency {
        parts.insert("urgency", u.clone());
    }
    if let Some(p) = &runbook.priority {
        parts.insert("priority", p.clone());
    }
    if let Some(t) = &runbook.title {
        parts.insert("title", format!("/{}/", t.as_str()));
    }
    if parts.is_empty() {
        return "any incident".into();
    }
    parts
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[destinations]
s3 = "s3://evidence/casefile/"
[targets.web1]
url = "ssh://ops@web1"
tags = ["web"]
[targets.orders]
url = "mysql://app@db1/orders"

[[runbooks]]
name = "catch-all"
runs = ["uptime"]

[[runbooks]]
name = "mail"
service = "My Mail Service"
targets = ["tag:web", "orders"]
presets = ["linux-triage"]
export = ["s3", "incident"]

[[runbooks]]
name = "mail-p1-fire"
service = "PIJ90N7"
priority = "P1"
title = "(?i)fire"
runs = ["ss -tanp"]

[[runbooks]]
name = "mail-again"
service = "My Mail Service"
runs = ["true"]
"#;

    fn facts(service: &str, priority: Option<&str>, title: &str) -> IncidentFacts {
        IncidentFacts {
            id: "PT4KHLK".into(),
            title: Some(title.into()),
            service_id: Some("PIJ90N7".into()),
            service_name: Some(service.into()),
            urgency: Some("high".into()),
            priority: priority.map(str::to_string),
        }
    }

    #[test]
    fn the_most_specific_match_wins_then_file_order() {
        let config = Config::parse("casefile.toml", FILE).expect("valid");
        let pick = |f: &IncidentFacts| select(&config.runbooks, f).map(|r| r.name.clone());
        // service id + priority + title: 3 criteria beat the service name alone.
        assert_eq!(
            pick(&facts(
                "My Mail Service",
                Some("P1"),
                "The server is on fire."
            )),
            Some("mail-p1-fire".into())
        );
        // Without the priority only `mail` and `mail-again` (1 criterion each) match: file order.
        assert_eq!(
            pick(&facts("My Mail Service", None, "The server is on fire.")),
            Some("mail".into())
        );
        // Another service: only the catch-all (no criteria) is left.
        let mut other = facts("Billing", None, "slow");
        other.service_id = Some("PBILL".into());
        assert_eq!(pick(&other), Some("catch-all".into()));
        let only_specific: Vec<Runbook> = config.runbooks[1..].to_vec();
        assert_eq!(select(&only_specific, &other).map(|r| r.name.clone()), None);
    }

    #[test]
    fn criteria_are_and_ed_and_case_insensitive_for_urgency_and_priority() {
        let config = Config::parse(
            "c.toml",
            "[[runbooks]]\nname = \"a\"\nurgency = \"high\"\npriority = \"p1\"\nruns = [\"true\"]\n",
        )
        .expect("valid");
        let runbook = &config.runbooks[0];
        let mut f = facts("x", Some("P1"), "t");
        assert_eq!(matches(runbook, &f), Some(2));
        f.urgency = Some("low".into());
        assert_eq!(matches(runbook, &f), None);
        f.urgency = None;
        assert_eq!(matches(runbook, &f), None, "a criterion the incident lacks");
    }

    #[test]
    fn a_runbook_makes_the_plan_request_with_its_targets_and_params() {
        let config = Config::parse(
            "casefile.toml",
            &format!("{FILE}\n[[runbooks]]\nname = \"p\"\npresets = [\"x\"]\ntargets = [\"bastion\"]\nparams = {{ pid = \"42\" }}\n"),
        )
        .expect("valid");
        let ssh = SshConfig::parse("ssh_config", "Host bastion\n HostName 10.0.0.2\n");
        let mail = by_name(&config.runbooks, "mail").expect("mail");
        let request = plan_request(
            mail,
            Some(&facts("My Mail Service", None, "t")),
            &config,
            &ssh,
        )
        .expect("request");
        let names: Vec<&str> = request.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["web1", "orders"]);
        assert_eq!(request.presets, vec!["linux-triage"]);
        assert_eq!(
            request.incident.as_ref().map(|i| i.id.as_str()),
            Some("PT4KHLK")
        );
        let p = by_name(&config.runbooks, "p").expect("p");
        let request = plan_request(p, None, &config, &ssh).expect("ssh_config host");
        assert_eq!(request.targets[0].source, crate::session::SSH_CONFIG_SOURCE);
        assert_eq!(request.params["pid"], "42");
        // Without that Host, the error names the line of the target.
        let err =
            plan_request(p, None, &config, &SshConfig::parse("s", "")).expect_err("unknown target");
        let line = FILE.lines().count() + 5;
        assert_eq!(
            (err.file.as_str(), err.line),
            ("casefile.toml", line),
            "{err}"
        );
        assert!(err.to_string().contains("`bastion`"), "{err}");
        let err = by_name(&config.runbooks, "nope").expect_err("unknown");
        assert!(err.contains("runbooks: catch-all, mail"), "{err}");
    }

    #[test]
    fn config_errors_name_file_line_and_column() {
        let check = |text: &str| Config::parse("c.toml", text).expect_err("invalid");
        let err = check("[[runbooks]]\nname = \"a\"\nruns = [\"x\"]\ntitle = \"(unclosed\"\n");
        assert_eq!((err.line, err.column), (4, 9), "{err}");
        assert!(
            err.to_string().contains("not a regular expression"),
            "{err}"
        );
        let err = check("[[runbooks]]\nname = \"a\"\nruns = [\"x\"]\nexport = [\"s3\"]\n");
        assert_eq!((err.line, err.column), (4, 11), "{err}");
        assert!(
            err.to_string().contains("destinations.s3 is not set"),
            "{err}"
        );
        let err = check("[[runbooks]]\nname = \"a\"\nruns = [\"x\"]\nexport = [\"slack\"]\n");
        assert!(err.to_string().contains("unknown export `slack`"), "{err}");
        let err = check("[[runbooks]]\nname = \"a\"\nurgency = \"urgent\"\nruns = [\"x\"]\n");
        assert_eq!(err.line, 3, "{err}");
        let err = check("[[runbooks]]\nname = \"a\"\n");
        assert!(err.to_string().contains("captures nothing"), "{err}");
        let err = check(
            "[[runbooks]]\nname = \"a\"\nruns = [\"x\"]\n[[runbooks]]\nname = \"a\"\nruns = [\"y\"]\n",
        );
        assert_eq!(err.line, 5, "{err}");
        let err = check("[[runbooks]]\nname = \"a\"\nruns = [\"x\"]\nservise = \"m\"\n");
        assert!(err.to_string().contains("unknown field `servise`"), "{err}");
        assert_eq!(err.line, 4);
        let err = check("[watch]\nevents = [\"incident.annotated\"]\n");
        assert_eq!((err.line, err.column), (2, 11), "{err}");
        let err = check("[watch]\nwebhook_secret = \"hook\"\n");
        assert!(err.to_string().contains("[secrets.hook]"), "{err}");
    }

    #[test]
    fn check_reports_unknown_presets_at_their_place() {
        let config = Config::parse(
            "c.toml",
            "[[runbooks]]\nname = \"a\"\npresets = [\"linux-triage\", \"no-such-preset\"]\n",
        )
        .expect("valid");
        let library = PresetLibrary::load(None);
        let problems = check(&config, &SshConfig::parse("s", ""), &library);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].line, problems[0].column), (3, 28));
        assert!(problems[0].to_string().contains("no-such-preset"));
    }
}
