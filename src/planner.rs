//! Builds a [`CapturePlan`] from what the operator picked: targets, presets with parameters,
//! and ad-hoc `--run`/`--query` steps. Shared by the CLI and the TUI.
use crate::model::{
    CapturePlan, Incident, Repeat, StepAction, StreamSpec, Target, TargetKind, plan::slug,
};
use crate::preset::PresetLibrary;
use std::{collections::BTreeMap, time::Duration};

/// The operator's choices.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub incident: Option<Incident>,
    pub targets: Vec<Target>,
    pub presets: Vec<String>,
    pub params: BTreeMap<String, String>,
    pub runs: Vec<String>,
    pub queries: Vec<String>,
    /// Timeout for ad-hoc steps, and an override for every preset step when `override_timeouts`.
    pub timeout: Duration,
    pub override_timeouts: bool,
    /// Cap for ad-hoc steps' output.
    pub max_bytes: Option<u64>,
    pub allow_intrusive: bool,
}

/// A stream before it gets its id.
struct Draft {
    target: usize,
    preset: String,
    step: String,
    action: StepAction,
    requires: Vec<String>,
    timeout: Duration,
    max_bytes: Option<u64>,
    sudo: bool,
    intrusive: bool,
    /// Database steps: row cap and sampling.
    max_rows: Option<u64>,
    repeat: Option<Repeat>,
    /// Shell steps: a file to copy into the snapshot afterwards.
    fetch: Option<String>,
}

/// Makes the plan, or says plainly why it cannot (nothing runs then).
pub fn build_plan(request: &PlanRequest, library: &PresetLibrary) -> Result<CapturePlan, String> {
    if request.presets.is_empty() && request.runs.is_empty() && request.queries.is_empty() {
        return Err("nothing to capture: pass --preset NAME, --run 'CMD' or --query 'SQL' (see `casefile presets list`)".into());
    }
    let mut targets: Vec<Target> = Vec::new();
    for target in &request.targets {
        if !targets.iter().any(|t| t.name == target.name) {
            targets.push(target.clone());
        }
    }
    if targets.is_empty() {
        targets.push(Target::local());
    }
    let mut drafts: Vec<Draft> = Vec::new();
    let mut used_params = std::collections::BTreeSet::new();

    for name in &request.presets {
        let preset = library.get(name)?;
        let matching: Vec<usize> = (0..targets.len())
            .filter(|&i| targets[i].kind() == preset.target)
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "preset `{name}` is for {} targets, and none of the selected targets ({}) is one",
                preset.target,
                targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        used_params.extend(preset.params.keys().cloned());
        let values = preset.resolve_params(&request.params)?;
        for &target in &matching {
            for step in &preset.steps {
                let action = preset.render_step(step, &values, targets[target].kind())?;
                let timeout = if request.override_timeouts {
                    request.timeout
                } else {
                    step.timeout
                };
                drafts.push(Draft {
                    target,
                    preset: name.clone(),
                    step: step.name.clone(),
                    action,
                    requires: step.requires.clone(),
                    timeout,
                    max_bytes: Some(step.max_bytes),
                    sudo: step.sudo,
                    intrusive: step.intrusive,
                    max_rows: step.max_rows,
                    repeat: step.repeat,
                    fetch: preset.render_fetch(step, &values),
                });
            }
        }
    }
    for given in request.params.keys() {
        if !used_params.contains(given) {
            return Err(format!(
                "--param {given}: none of the selected presets has a parameter `{given}`"
            ));
        }
    }
    let adhoc = |kind_ok: fn(TargetKind) -> bool,
                 texts: &[String],
                 make: fn(String) -> StepAction,
                 what: &str,
                 drafts: &mut Vec<_>|
     -> Result<(), String> {
        if texts.is_empty() {
            return Ok(());
        }
        let matching: Vec<usize> = (0..targets.len())
            .filter(|&i| kind_ok(targets[i].kind()))
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "{what} needs a target of the right kind; none of the selected targets is one"
            ));
        }
        for (n, text) in texts.iter().enumerate() {
            if text.trim().is_empty() {
                return Err(format!("{what} #{} is empty", n + 1));
            }
            for &target in &matching {
                let step = if texts.len() == 1 {
                    what.trim_start_matches('-').to_string()
                } else {
                    format!("{}-{}", what.trim_start_matches('-'), n + 1)
                };
                drafts.push(Draft {
                    target,
                    preset: "adhoc".to_string(),
                    step,
                    action: make(text.clone()),
                    requires: vec![],
                    timeout: request.timeout,
                    max_bytes: request.max_bytes,
                    sudo: false,
                    intrusive: false,
                    max_rows: None,
                    repeat: None,
                    fetch: None,
                });
            }
        }
        Ok(())
    };
    adhoc(
        |k| k == TargetKind::Shell,
        &request.runs,
        StepAction::Command,
        "--run",
        &mut drafts,
    )?;
    adhoc(
        TargetKind::is_database,
        &request.queries,
        StepAction::Query,
        "--query",
        &mut drafts,
    )?;

    let width = drafts.len().to_string().len().max(2);
    let streams = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| StreamSpec {
            id: format!("{:0width$}-{}-{}-{}", i + 1, slug(&targets[d.target].name), slug(&d.preset), slug(&d.step)),
            target: d.target,
            preset: d.preset,
            step: d.step,
            action: d.action,
            requires: d.requires,
            timeout: d.timeout,
            max_bytes: d.max_bytes,
            sudo: d.sudo,
            max_rows: d.max_rows,
            repeat: d.repeat,
            skip_reason: (d.intrusive && !request.allow_intrusive)
                .then(|| "intrusive step (it can pause or burden the process): confirm to run it (--allow-intrusive)".to_string()),
            intrusive: d.intrusive,
            fetch: d.fetch,
        })
        .collect();
    Ok(CapturePlan {
        incident: request.incident.clone(),
        targets,
        streams,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TargetSpec;

    fn target(name: &str, url: &str) -> Target {
        Target {
            name: name.into(),
            spec: TargetSpec::parse_url(url).expect("url"),
            tags: vec![],
            source: "test".into(),
            password_secret: None,
        }
    }

    #[test]
    fn presets_apply_to_targets_of_their_kind_and_ids_are_unique() {
        let library = PresetLibrary::load(None);
        let request = PlanRequest {
            targets: vec![Target::local(), target("db", "postgres://u@127.0.0.1/x")],
            presets: vec!["linux-triage".into(), "postgres".into()],
            runs: vec!["uptime".into()],
            queries: vec!["SELECT 1".into()],
            timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let plan = build_plan(&request, &library).expect("plan");
        let triage = library.presets["linux-triage"].steps.len();
        let postgres = library.presets["postgres"].steps.len();
        assert_eq!(plan.streams.len(), triage + postgres + 2);
        assert!(
            plan.streams
                .iter()
                .all(|s| s.action.runs_on(plan.targets[s.target].kind()))
        );
        let mut ids: Vec<&str> = plan.streams.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), plan.streams.len());
        assert!(plan.streams[0].id.starts_with("01-local-linux-triage-"));
    }

    #[test]
    fn parameters_are_filled_quoted_and_intrusive_steps_wait_for_confirmation() {
        let library = PresetLibrary::load(None);
        let mut request = PlanRequest {
            presets: vec!["jvm".into()],
            params: BTreeMap::from([("pid".to_string(), "4242".to_string())]),
            timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let plan = build_plan(&request, &library).expect("plan");
        // The value is data: a single-quoted assignment, then a quoted variable reference.
        assert!(plan.streams.iter().any(|s| {
            s.action.text() == "CF_PARAM_pid='4242'\njcmd \"$CF_PARAM_pid\" Thread.print -l"
        }));
        assert!(
            plan.streams
                .iter()
                .any(|s| s.intrusive && s.skip_reason.is_some())
        );
        request.allow_intrusive = true;
        let plan = build_plan(&request, &library).expect("plan");
        assert!(plan.streams.iter().all(|s| s.skip_reason.is_none()));
        request.override_timeouts = true;
        let plan = build_plan(&request, &library).expect("plan");
        assert!(
            plan.streams
                .iter()
                .all(|s| s.timeout == Duration::from_secs(5))
        );
    }
}
