//! Builds a [`CapturePlan`] from what the operator picked: targets, presets with parameters,
//! and ad-hoc `--run`/`--query` steps. Shared by the CLI and the TUI.
use crate::model::{CapturePlan, Incident, StepAction, StreamSpec, Target, TargetKind, plan::slug};
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
    #[allow(clippy::type_complexity)]
    let mut drafts: Vec<(
        usize,
        String,
        String,
        StepAction,
        Vec<String>,
        Duration,
        Option<u64>,
        bool,
        bool,
        Option<String>,
    )> = Vec::new();
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
                drafts.push((
                    target,
                    name.clone(),
                    step.name.clone(),
                    action,
                    step.requires.clone(),
                    timeout,
                    Some(step.max_bytes),
                    step.sudo,
                    step.intrusive,
                    preset.render_fetch(step, &values),
                ));
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
                drafts.push((
                    target,
                    "adhoc".to_string(),
                    step,
                    make(text.clone()),
                    vec![],
                    request.timeout,
                    request.max_bytes,
                    false,
                    false,
                    None,
                ));
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
        .map(|(i, (target, preset, step, action, requires, timeout, max_bytes, sudo, intrusive, fetch))| StreamSpec {
            id: format!("{:0width$}-{}-{}-{}", i + 1, slug(&targets[target].name), slug(&preset), slug(&step)),
            target,
            preset,
            step,
            action,
            requires,
            timeout,
            max_bytes,
            sudo,
            skip_reason: (intrusive && !request.allow_intrusive)
                .then(|| "intrusive step (it can pause or burden the process): confirm to run it (--allow-intrusive)".to_string()),
            intrusive,
            fetch,
        })
        .collect();
    Ok(CapturePlan {
        incident: request.incident.clone(),
        targets,
        streams,
    })
}
