//! Plan: choose targets (any kind; filter, tags, multi-select) and presets (parameters with
//! their defaults, intrusive steps flagged), type an ad-hoc command or query, and see exactly
//! what will run where before starting. The preview is `planner::build_plan` itself, so what
//! is shown is what runs.
use crate::config::RunbookExport;
use crate::model::{CapturePlan, Incident, Target, TargetKind};
use crate::planner::{PlanRequest, build_plan};
use crate::preset::{ParamDef, PresetLibrary};
use crate::session::SSH_CONFIG_SOURCE;
use crate::tui::action::{Action, Cmd, Effect};
use crate::tui::theme::Theme;
use crossterm::event::KeyCode;
use ratatui::{
    buffer::Buffer,
    layout::{Constraint, Layout, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, BorderType, Borders, Paragraph, Widget, Wrap},
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Targets,
    Presets,
    Params,
    Command,
}

const FOCUS_ORDER: [Focus; 4] = [
    Focus::Targets,
    Focus::Presets,
    Focus::Params,
    Focus::Command,
];

/// Limits the plan applies to ad-hoc steps (from the config).
#[derive(Debug, Clone, Copy)]
pub struct PlanDefaults {
    pub timeout: Duration,
    pub max_bytes: Option<u64>,
}

/// State of the plan screen.
#[derive(Debug, Clone)]
pub struct PlanState {
    pub incident: Option<Incident>,
    pub targets: Vec<Target>,
    pub selected_targets: BTreeSet<usize>,
    pub target_cursor: usize,
    pub target_filter: String,
    library: Arc<PresetLibrary>,
    pub preset_names: Vec<String>,
    pub selected_presets: BTreeSet<usize>,
    pub preset_cursor: usize,
    pub preset_filter: String,
    /// Values typed for parameters (defaults are used for the rest).
    pub params: BTreeMap<String, String>,
    pub param_cursor: usize,
    /// The value being typed for the parameter under the cursor.
    pub param_edit: Option<String>,
    pub command: String,
    /// Whether the ad-hoc line is SQL (ctrl-t in the field); `None` = SQL only when every
    /// selected target is a database.
    pub adhoc_sql: Option<bool>,
    pub focus: Focus,
    pub filtering: bool,
    pub allow_intrusive: bool,
    pub defaults: PlanDefaults,
    /// `build_plan` of the current choices.
    pub preview: Result<CapturePlan, String>,
    /// The runbook that preselected this plan, if the incident matched one.
    pub runbook: Option<RunbookChoice>,
}

/// What a matching runbook set beyond targets, presets and parameters: its name (shown), its
/// ad-hoc steps (kept beside the one typed line) and where the result goes (Export preselects it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookChoice {
    pub name: String,
    pub runs: Vec<String>,
    pub queries: Vec<String>,
    pub export: Vec<RunbookExport>,
}

impl PlanState {
    pub const COMMANDS: &'static [Cmd] = &[
        Cmd::Toggle,
        Cmd::NextFocus,
        Cmd::AdHoc,
        Cmd::Start,
        Cmd::Filter,
        Cmd::SelectTag,
        Cmd::SelectAll,
        Cmd::AllowIntrusive,
        Cmd::Back,
    ];

    pub fn new(
        incident: Option<Incident>,
        targets: Vec<Target>,
        library: Arc<PresetLibrary>,
        defaults: PlanDefaults,
    ) -> PlanState {
        let preset_names = library.presets.keys().cloned().collect();
        let selected_targets = targets
            .iter()
            .position(|t| t.name == "local")
            .into_iter()
            .collect();
        let mut state = PlanState {
            incident,
            targets,
            selected_targets,
            target_cursor: 0,
            target_filter: String::new(),
            library,
            preset_names,
            selected_presets: BTreeSet::new(),
            preset_cursor: 0,
            preset_filter: String::new(),
            params: BTreeMap::new(),
            param_cursor: 0,
            param_edit: None,
            command: String::new(),
            adhoc_sql: None,
            focus: Focus::Targets,
            filtering: false,
            allow_intrusive: false,
            defaults,
            preview: Err(String::new()),
            runbook: None,
        };
        state.refresh();
        state
    }

    /// Preselects what a runbook's plan request names: its targets (added to the list when the
    /// list lacks one, e.g. a URL), presets, parameters and ad-hoc steps. Everything stays
    /// editable; only the ad-hoc line typed here is the operator's own.
    pub fn apply_runbook(&mut self, name: &str, export: Vec<RunbookExport>, request: PlanRequest) {
        self.selected_targets.clear();
        for target in request.targets {
            let index = match self.targets.iter().position(|t| t.name == target.name) {
                Some(index) => index,
                None => {
                    self.targets.push(target);
                    self.targets.len() - 1
                }
            };
            self.selected_targets.insert(index);
        }
        self.selected_presets = request
            .presets
            .iter()
            .filter_map(|p| self.preset_names.iter().position(|n| n == p))
            .collect();
        self.params.extend(request.params);
        self.allow_intrusive = request.allow_intrusive;
        self.runbook = Some(RunbookChoice {
            name: name.to_string(),
            runs: request.runs,
            queries: request.queries,
            export,
        });
        self.refresh();
    }

    /// The operator confirmed (or withdrew) running intrusive steps.
    pub fn set_allow_intrusive(&mut self, allow: bool) {
        self.allow_intrusive = allow;
        self.refresh();
    }

    pub fn text_mode(&self) -> bool {
        self.filtering || self.param_edit.is_some() || self.focus == Focus::Command
    }

    /// Indices of targets matching the filter (name, URL, tags).
    pub fn visible_targets(&self) -> Vec<usize> {
        let f = self.target_filter.to_lowercase();
        (0..self.targets.len())
            .filter(|&i| {
                let t = &self.targets[i];
                f.is_empty()
                    || t.name.to_lowercase().contains(&f)
                    || t.spec.to_url().to_lowercase().contains(&f)
                    || t.tags.iter().any(|g| g.to_lowercase().contains(&f))
            })
            .collect()
    }

    /// Indices of presets matching the filter (name, description, target kind).
    pub fn visible_presets(&self) -> Vec<usize> {
        let f = self.preset_filter.to_lowercase();
        (0..self.preset_names.len())
            .filter(|&i| {
                let name = &self.preset_names[i];
                f.is_empty()
                    || name.contains(&f)
                    || self.library.presets.get(name).is_some_and(|p| {
                        p.description.to_lowercase().contains(&f)
                            || p.target.to_string().contains(&f)
                    })
            })
            .collect()
    }

    /// Parameters of the selected presets: (name, definition, preset).
    pub fn param_list(&self) -> Vec<(String, ParamDef, String)> {
        let mut out: Vec<(String, ParamDef, String)> = Vec::new();
        for &i in &self.selected_presets {
            if let Some(p) = self.library.presets.get(&self.preset_names[i]) {
                for (name, def) in &p.params {
                    if !out.iter().any(|(n, _, _)| n == name) {
                        out.push((name.clone(), def.clone(), p.name.clone()));
                    }
                }
            }
        }
        out
    }

    /// True when the ad-hoc line is run as SQL on database targets rather than as a shell command.
    pub fn adhoc_is_sql(&self) -> bool {
        self.adhoc_sql.unwrap_or_else(|| {
            !self.selected_targets.is_empty()
                && self
                    .selected_targets
                    .iter()
                    .all(|&i| self.targets.get(i).is_some_and(|t| t.kind().is_database()))
        })
    }

    /// What would be asked of the planner now.
    pub fn request(&self) -> PlanRequest {
        let targets: Vec<Target> = self
            .selected_targets
            .iter()
            .filter_map(|&i| self.targets.get(i).cloned())
            .collect();
        let command = self.command.trim().to_string();
        let (mut runs, mut queries) = match &self.runbook {
            Some(r) => (r.runs.clone(), r.queries.clone()),
            None => (Vec::new(), Vec::new()),
        };
        if !command.is_empty() {
            if self.adhoc_is_sql() {
                queries.push(command);
            } else {
                runs.push(command);
            }
        }
        let names: BTreeSet<String> = self.param_list().into_iter().map(|(n, _, _)| n).collect();
        PlanRequest {
            incident: self.incident.clone(),
            targets,
            presets: self
                .selected_presets
                .iter()
                .map(|&i| self.preset_names[i].clone())
                .collect(),
            params: self
                .params
                .iter()
                .filter(|(k, _)| names.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            runs,
            queries,
            timeout: self.defaults.timeout,
            override_timeouts: false,
            max_bytes: self.defaults.max_bytes,
            allow_intrusive: self.allow_intrusive,
        }
    }

    fn refresh(&mut self) {
        let request = self.request();
        // Nothing chosen yet: the preview shows how to start, not the planner's complaint.
        self.preview = if request.presets.is_empty()
            && request.runs.is_empty()
            && request.queries.is_empty()
        {
            Err(String::new())
        } else {
            build_plan(&request, &self.library)
        };
        let params = self.param_list().len();
        self.param_cursor = self.param_cursor.min(params.saturating_sub(1));
    }

    fn filter_mut(&mut self) -> Option<&mut String> {
        match self.focus {
            Focus::Targets => Some(&mut self.target_filter),
            Focus::Presets => Some(&mut self.preset_filter),
            _ => None,
        }
    }

    fn move_focus(&mut self, forward: bool) {
        let i = FOCUS_ORDER
            .iter()
            .position(|f| *f == self.focus)
            .unwrap_or(0);
        let mut next = if forward { (i + 1) % 4 } else { (i + 3) % 4 };
        if FOCUS_ORDER[next] == Focus::Params && self.param_list().is_empty() {
            next = if forward {
                (next + 1) % 4
            } else {
                (next + 3) % 4
            };
        }
        self.focus = FOCUS_ORDER[next];
    }

    fn start(&self) -> Option<Effect> {
        match &self.preview {
            Ok(plan) if plan.streams.iter().all(|s| s.skip_reason.is_some()) => {
                Some(Effect::Message(
                    "every planned step would be skipped: allow intrusive steps (i) or pick more"
                        .into(),
                ))
            }
            Ok(_) => Some(Effect::StartCapture(Box::new(self.request()))),
            Err(e) if e.is_empty() => Some(Effect::Message(
                "nothing to capture yet: select a preset (space) or type a command (c)".into(),
            )),
            Err(e) => Some(Effect::Message(format!("cannot start: {e}"))),
        }
    }

    pub fn update(&mut self, action: Action) -> Option<Effect> {
        let effect = match action {
            Action::Key(key) => self.key(
                key.code,
                key.modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL),
            ),
            Action::Cmd(cmd) => self.command(cmd),
            _ => None,
        };
        self.refresh();
        effect
    }

    fn key(&mut self, code: KeyCode, ctrl: bool) -> Option<Effect> {
        if self.filtering {
            match code {
                KeyCode::Esc => {
                    if let Some(f) = self.filter_mut() {
                        f.clear();
                    }
                    self.filtering = false;
                }
                KeyCode::Enter | KeyCode::Down | KeyCode::Tab => self.filtering = false,
                KeyCode::Backspace => {
                    if let Some(f) = self.filter_mut() {
                        f.pop();
                    }
                }
                KeyCode::Char(c) => {
                    if let Some(f) = self.filter_mut() {
                        f.push(c);
                    }
                }
                _ => {}
            }
            self.target_cursor = 0;
            self.preset_cursor = 0;
            return None;
        }
        if let Some(edit) = self.param_edit.as_mut() {
            match code {
                KeyCode::Esc => self.param_edit = None,
                KeyCode::Enter => {
                    let value = self.param_edit.take().unwrap_or_default();
                    if let Some((name, _, _)) = self.param_list().get(self.param_cursor) {
                        self.params.insert(name.clone(), value);
                    }
                }
                KeyCode::Backspace => {
                    edit.pop();
                }
                KeyCode::Char(c) => edit.push(c),
                _ => {}
            }
            return None;
        }
        // The ad-hoc command line.
        if code == KeyCode::Char('t') && ctrl {
            self.adhoc_sql = Some(!self.adhoc_is_sql());
            return None;
        }
        match code {
            KeyCode::Esc => self.focus = Focus::Targets,
            KeyCode::Tab => self.move_focus(true),
            KeyCode::BackTab => self.move_focus(false),
            KeyCode::Enter => return self.start(),
            KeyCode::Backspace => {
                self.command.pop();
            }
            KeyCode::Char(c) => self.command.push(c),
            _ => {}
        }
        None
    }

    fn command(&mut self, cmd: Cmd) -> Option<Effect> {
        let count = match self.focus {
            Focus::Targets => self.visible_targets().len(),
            Focus::Presets => self.visible_presets().len(),
            Focus::Params => self.param_list().len(),
            Focus::Command => return None,
        };
        let cursor_value = match self.focus {
            Focus::Targets => self.target_cursor,
            Focus::Presets => self.preset_cursor,
            _ => self.param_cursor,
        };
        let last = count.saturating_sub(1);
        let moved = match cmd {
            Cmd::Up => Some(cursor_value.saturating_sub(1)),
            Cmd::Down => Some((cursor_value + 1).min(last)),
            Cmd::Top => Some(0),
            Cmd::Bottom => Some(last),
            Cmd::PageUp => Some(cursor_value.saturating_sub(10)),
            Cmd::PageDown => Some((cursor_value + 10).min(last)),
            _ => None,
        };
        if let Some(to) = moved {
            match self.focus {
                Focus::Targets => self.target_cursor = to,
                Focus::Presets => self.preset_cursor = to,
                _ => self.param_cursor = to,
            }
            return None;
        }
        match cmd {
            Cmd::NextFocus | Cmd::Right => self.move_focus(true),
            Cmd::PrevFocus | Cmd::Left => self.move_focus(false),
            Cmd::AdHoc => self.focus = Focus::Command,
            Cmd::Filter if matches!(self.focus, Focus::Targets | Focus::Presets) => {
                self.filtering = true
            }
            Cmd::Toggle | Cmd::Select => match self.focus {
                Focus::Targets => {
                    if let Some(&i) = self.visible_targets().get(cursor_value)
                        && !self.selected_targets.remove(&i)
                    {
                        self.selected_targets.insert(i);
                    }
                }
                Focus::Presets => {
                    if let Some(&i) = self.visible_presets().get(cursor_value)
                        && !self.selected_presets.remove(&i)
                    {
                        self.selected_presets.insert(i);
                    }
                }
                Focus::Params => {
                    if let Some((name, def, _)) = self.param_list().get(cursor_value) {
                        self.param_edit = Some(
                            self.params
                                .get(name)
                                .cloned()
                                .or_else(|| def.default.clone())
                                .unwrap_or_default(),
                        );
                    }
                }
                Focus::Command => {}
            },
            Cmd::SelectAll => match self.focus {
                Focus::Targets => {
                    let visible = self.visible_targets();
                    if visible.iter().all(|i| self.selected_targets.contains(i)) {
                        visible.iter().for_each(|i| {
                            self.selected_targets.remove(i);
                        });
                    } else {
                        self.selected_targets.extend(visible);
                    }
                }
                Focus::Presets => {
                    let visible = self.visible_presets();
                    if visible.iter().all(|i| self.selected_presets.contains(i)) {
                        visible.iter().for_each(|i| {
                            self.selected_presets.remove(i);
                        });
                    } else {
                        self.selected_presets.extend(visible);
                    }
                }
                _ => {}
            },
            Cmd::SelectTag if self.focus == Focus::Targets => {
                let &i = self.visible_targets().get(cursor_value)?;
                let tags = self.targets[i].tags.clone();
                if tags.is_empty() {
                    return Some(Effect::Message(format!(
                        "target `{}` has no tags",
                        self.targets[i].name
                    )));
                }
                let matching: Vec<usize> = (0..self.targets.len())
                    .filter(|&j| self.targets[j].tags.iter().any(|t| tags.contains(t)))
                    .collect();
                let n = matching.len();
                self.selected_targets.extend(matching);
                return Some(Effect::Message(format!(
                    "selected {n} targets tagged {}",
                    tags.join(", ")
                )));
            }
            Cmd::AllowIntrusive => {
                if self.allow_intrusive {
                    self.allow_intrusive = false;
                } else {
                    return Some(Effect::Confirm {
                        message: "Run intrusive steps (gdb, heap dumps, tcpdump)? They can pause or burden the process being debugged.".into(),
                        then: Box::new(Effect::AllowIntrusive),
                    });
                }
            }
            Cmd::Start => return self.start(),
            Cmd::Back => return Some(Effect::Home),
            Cmd::Quit => return Some(Effect::Quit),
            _ => {}
        }
        None
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Fill(1)]).areas(area);
        let [targets_area, presets_area] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(left);
        let params = self.param_list();
        let params_height = if params.is_empty() {
            0
        } else {
            (params.len() as u16 + 2).min(right.height / 3)
        };
        let [params_area, command_area, preview_area] = Layout::vertical([
            Constraint::Length(params_height),
            Constraint::Length(3),
            Constraint::Fill(1),
        ])
        .areas(right);
        self.render_targets(targets_area, buf, theme);
        self.render_presets(presets_area, buf, theme);
        if !params.is_empty() {
            self.render_params(&params, params_area, buf, theme);
        }
        self.render_command(command_area, buf, theme);
        self.render_preview(preview_area, buf, theme);
    }

    fn block<'a>(
        &self,
        title: String,
        focus: Focus,
        filter: Option<&str>,
        theme: &Theme,
    ) -> Block<'a> {
        let focused = self.focus == focus;
        let mut block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(if focused {
                theme.border_focus
            } else {
                theme.border
            })
            .title(Span::styled(
                format!(" {title} "),
                if focused { theme.accent } else { theme.title },
            ));
        if let Some(f) = filter
            && (!f.is_empty() || (focused && self.filtering))
        {
            block = block.title(
                Line::from(vec![
                    Span::styled(" filter: ", theme.muted),
                    Span::styled(
                        format!("{f}{}", if focused && self.filtering { "▏" } else { "" }),
                        theme.input,
                    ),
                ])
                .right_aligned(),
            );
        }
        block
    }

    fn list_lines<'a>(
        &self,
        items: Vec<(bool, Vec<Span<'a>>)>,
        cursor: usize,
        focused: bool,
        height: usize,
        theme: &Theme,
    ) -> Vec<Line<'a>> {
        let offset = cursor.saturating_sub(height.saturating_sub(1));
        items
            .into_iter()
            .enumerate()
            .skip(offset)
            .take(height)
            .map(|(i, (checked, mut spans))| {
                let mark = if checked {
                    Span::styled(" ◉ ", theme.checked)
                } else {
                    Span::styled(" ○ ", theme.muted)
                };
                spans.insert(0, mark);
                let line = Line::from(spans);
                if focused && i == cursor {
                    crate::tui::widgets::selected_line(line, theme.selected)
                } else {
                    line
                }
            })
            .collect()
    }

    fn render_targets(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let visible = self.visible_targets();
        let title = format!(
            "Targets {}/{}",
            self.selected_targets.len(),
            self.targets.len()
        );
        let block = self.block(title, Focus::Targets, Some(&self.target_filter), theme);
        let items = visible
            .iter()
            .map(|&i| {
                let t = &self.targets[i];
                let kind_style = if t.kind() == TargetKind::Shell {
                    theme.running
                } else {
                    theme.header
                };
                let mut spans = vec![
                    Span::styled(format!("{:<14}", t.name), theme.text()),
                    Span::styled(format!("{:<9}", t.kind().to_string()), kind_style),
                ];
                if !t.tags.is_empty() {
                    spans.push(Span::styled(
                        format!("#{} ", t.tags.join(" #")),
                        theme.accent,
                    ));
                }
                // A Host of ~/.ssh/config says so (the URL alone looks like an inline target).
                if t.source == SSH_CONFIG_SOURCE {
                    spans.push(Span::styled(format!("{SSH_CONFIG_SOURCE} "), theme.accent));
                }
                spans.push(Span::styled(t.spec.to_url(), theme.muted));
                (self.selected_targets.contains(&i), spans)
            })
            .collect();
        let lines = self.list_lines(
            items,
            self.target_cursor,
            self.focus == Focus::Targets,
            area.height.saturating_sub(2) as usize,
            theme,
        );
        Paragraph::new(lines).block(block).render(area, buf);
    }

    fn render_presets(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let visible = self.visible_presets();
        let title = format!(
            "Presets {}/{}",
            self.selected_presets.len(),
            self.preset_names.len()
        );
        let block = self.block(title, Focus::Presets, Some(&self.preset_filter), theme);
        let items = visible
            .iter()
            .filter_map(|&i| {
                let p = self.library.presets.get(&self.preset_names[i])?;
                let intrusive = p.steps.iter().any(|s| s.intrusive);
                let mut spans = vec![
                    Span::styled(format!("{:<15}", p.name), theme.text()),
                    Span::styled(
                        format!("{:<9}", p.target.to_string()),
                        if p.target == TargetKind::Shell {
                            theme.running
                        } else {
                            theme.header
                        },
                    ),
                    Span::styled(format!("{:>2} steps ", p.steps.len()), theme.muted),
                ];
                if intrusive {
                    spans.push(Span::styled("⚠ intrusive ", theme.warn));
                }
                if p.origin != crate::preset::PresetOrigin::Builtin {
                    spans.push(Span::styled("user", theme.accent));
                }
                Some((self.selected_presets.contains(&i), spans))
            })
            .collect();
        let lines = self.list_lines(
            items,
            self.preset_cursor,
            self.focus == Focus::Presets,
            area.height.saturating_sub(2) as usize,
            theme,
        );
        Paragraph::new(lines).block(block).render(area, buf);
    }

    fn render_params(
        &self,
        params: &[(String, ParamDef, String)],
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
    ) {
        let block = self.block(
            "Parameters · enter to edit".into(),
            Focus::Params,
            None,
            theme,
        );
        let focused = self.focus == Focus::Params;
        let lines: Vec<Line> = params
            .iter()
            .enumerate()
            .map(|(i, (name, def, preset))| {
                let editing = focused && i == self.param_cursor && self.param_edit.is_some();
                let value = if editing {
                    Span::styled(
                        format!("{}▏", self.param_edit.as_deref().unwrap_or("")),
                        theme.input,
                    )
                } else {
                    match self.params.get(name).or(def.default.as_ref()) {
                        Some(v) => Span::styled(v.clone(), theme.text()),
                        None => Span::styled("required", theme.error),
                    }
                };
                let line = Line::from(vec![
                    Span::styled(format!(" {name:<12}"), theme.accent),
                    value,
                    Span::styled(
                        format!(
                            "  {} ({preset})",
                            def.description.as_deref().unwrap_or(def.kind.describe())
                        ),
                        theme.muted,
                    ),
                ]);
                if focused && i == self.param_cursor && !editing {
                    crate::tui::widgets::selected_line(line, theme.selected)
                } else {
                    line
                }
            })
            .collect();
        Paragraph::new(lines).block(block).render(area, buf);
    }

    fn render_command(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let focused = self.focus == Focus::Command;
        let sql = self.adhoc_is_sql();
        let title = if sql {
            "Ad-hoc SQL for database targets · ^T shell · enter starts"
        } else {
            "Ad-hoc shell command · ^T SQL · enter starts"
        };
        let block = self.block(title.into(), Focus::Command, None, theme);
        let line = if self.command.is_empty() && !focused {
            Line::from(Span::styled(
                " press c to type a command to run on the selected targets",
                theme.muted,
            ))
        } else {
            Line::from(vec![
                Span::styled(if sql { " sql> " } else { " $ " }, theme.accent),
                Span::styled(
                    format!("{}{}", self.command, if focused { "▏" } else { "" }),
                    if focused { theme.input } else { theme.text() },
                ),
            ])
        };
        Paragraph::new(line).block(block).render(area, buf);
    }

    fn render_preview(&self, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let mut block = Block::default()
            .borders(Borders::ALL)
            .border_type(BorderType::Rounded)
            .border_style(theme.border);
        let mut lines: Vec<Line> = Vec::new();
        match &self.preview {
            Err(e) if e.is_empty() => {}
            Err(e) => {
                block = block.title(Span::styled(" Preview ", theme.title));
                lines.push(Line::from(Span::styled(e.clone(), theme.error)));
            }
            Ok(plan) => {
                let skipped = plan
                    .streams
                    .iter()
                    .filter(|s| s.skip_reason.is_some())
                    .count();
                let mut title = vec![Span::styled(
                    format!(
                        " Preview · {} streams on {} targets ",
                        plan.streams.len(),
                        plan.targets.len()
                    ),
                    theme.title,
                )];
                if skipped > 0 {
                    title.push(Span::styled(
                        format!("· {skipped} intrusive skipped (i to allow) "),
                        theme.warn,
                    ));
                } else if self.allow_intrusive {
                    title.push(Span::styled("· intrusive steps allowed ", theme.warn));
                }
                block = block.title(Line::from(title));
                let id_width = plan.streams.len().to_string().len().max(2);
                for (i, s) in plan.streams.iter().enumerate() {
                    let target = &plan.targets[s.target];
                    let style: Style = if s.skip_reason.is_some() {
                        theme.muted
                    } else {
                        theme.text()
                    };
                    let mut spans = vec![
                        Span::styled(format!("{:0id_width$} ", i + 1), theme.gutter),
                        Span::styled(format!("{:<10} ", target.name), theme.accent),
                        Span::styled(format!("{}/{} ", s.preset, s.step), style),
                    ];
                    if s.intrusive {
                        spans.push(Span::styled(
                            if s.skip_reason.is_some() {
                                "⚠ skipped "
                            } else {
                                "⚠ intrusive "
                            },
                            theme.warn,
                        ));
                    }
                    if s.sudo {
                        spans.push(Span::styled("sudo ", theme.warn));
                    }
                    spans.push(Span::styled(
                        format!("({}s)", s.timeout.as_secs()),
                        theme.muted,
                    ));
                    lines.push(Line::from(spans));
                    let first = s.action.text().lines().next().unwrap_or("");
                    let more = if s.action.text().lines().count() > 1 {
                        " …"
                    } else {
                        ""
                    };
                    let prompt = if target.kind().is_database() {
                        "sql> "
                    } else {
                        "$ "
                    };
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("{:width$}{prompt}", "", width = id_width + 1),
                            theme.gutter,
                        ),
                        Span::styled(format!("{first}{more}"), theme.muted),
                    ]));
                }
            }
        }
        if lines.is_empty() {
            block = block.title(Span::styled(" Preview ", theme.title));
            lines.push(Line::from(Span::styled(
                "Select targets (space) and presets, or type an ad-hoc command (c).",
                theme.muted,
            )));
            lines.push(Line::from(Span::styled(
                "The preview shows exactly what will run where.",
                theme.muted,
            )));
        }
        // Commands are cut at the border rather than wrapped: one line per step reads faster.
        let paragraph = Paragraph::new(lines).block(block);
        let paragraph = if self.preview.is_err() {
            paragraph.wrap(Wrap { trim: false })
        } else {
            paragraph
        };
        paragraph.render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEvent, KeyModifiers};

    fn state() -> PlanState {
        let config = crate::config::Config::parse(
            "c.toml",
            "[targets.web1]\nurl = \"ssh://ops@web1:22\"\ntags = [\"web\"]\n[targets.web2]\nurl = \"ssh://ops@web2:22\"\ntags = [\"web\"]\n[targets.orders]\nurl = \"mysql://app@db1/orders\"\n",
        )
        .expect("config");
        PlanState::new(
            None,
            config.all_targets(),
            Arc::new(PresetLibrary::load(None)),
            PlanDefaults {
                timeout: Duration::from_secs(30),
                max_bytes: None,
            },
        )
    }

    fn typed(s: &mut PlanState, text: &str) {
        for c in text.chars() {
            s.update(Action::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )));
        }
    }

    #[test]
    fn a_runbook_preselects_its_targets_presets_and_steps_and_stays_editable() {
        let config = crate::config::Config::parse(
            "c.toml",
            "[targets.web1]\nurl = \"ssh://ops@web1:22\"\ntags = [\"web\"]\n[targets.web2]\nurl = \"ssh://ops@web2:22\"\ntags = [\"web\"]\n[targets.orders]\nurl = \"mysql://app@db1/orders\"\n[destinations]\ns3 = \"s3://b/p/\"\n[[runbooks]]\nname = \"web\"\nservice = \"Web\"\ntargets = [\"tag:web\"]\npresets = [\"linux-triage\"]\nruns = [\"echo from-runbook\"]\nexport = [\"s3\"]\n",
        )
        .expect("config");
        let runbook = &config.runbooks[0];
        let request =
            crate::runbook::plan_request(runbook, None, &config, &crate::ssh::SshConfig::default())
                .expect("request");
        let mut s = state();
        s.apply_runbook(&runbook.name, runbook.export.clone(), request);
        let chosen: Vec<&str> = s
            .selected_targets
            .iter()
            .map(|&i| s.targets[i].name.as_str())
            .collect();
        assert_eq!(chosen, ["web1", "web2"], "tag:web, and no longer local");
        let presets: Vec<&str> = s
            .selected_presets
            .iter()
            .map(|&i| s.preset_names[i].as_str())
            .collect();
        assert_eq!(presets, ["linux-triage"]);
        let request = s.request();
        assert_eq!(request.runs, ["echo from-runbook"]);
        assert!(s.preview.is_ok(), "{:?}", s.preview);
        assert_eq!(
            s.runbook.as_ref().map(|r| r.export.clone()),
            Some(vec![RunbookExport::S3])
        );
        // Still editable: the operator's own ad-hoc line joins the runbook's step.
        s.update(Action::Cmd(Cmd::AdHoc));
        typed(&mut s, "uptime");
        assert_eq!(s.request().runs, ["echo from-runbook", "uptime"]);
    }

    #[test]
    fn ad_hoc_command_on_local_previews_and_starts() {
        let mut s = state();
        assert_eq!(s.selected_targets.len(), 1, "local is preselected");
        assert!(
            matches!(s.update(Action::Cmd(Cmd::Start)), Some(Effect::Message(m)) if m.contains("nothing to capture"))
        );
        s.update(Action::Cmd(Cmd::AdHoc));
        assert!(s.text_mode());
        typed(&mut s, "echo hello");
        let plan = s.preview.as_ref().expect("valid plan");
        assert_eq!(plan.streams.len(), 1);
        assert_eq!(plan.streams[0].action.text(), "echo hello");
        match s.update(Action::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        ))) {
            Some(Effect::StartCapture(request)) => {
                assert_eq!(request.runs, vec!["echo hello".to_string()])
            }
            other => panic!("expected start, got {other:?}"),
        }
    }

    #[test]
    fn tags_presets_params_and_intrusive_confirmation() {
        let mut s = state();
        s.update(Action::Cmd(Cmd::Down));
        assert_eq!(s.targets[s.target_cursor].name, "orders");
        assert!(
            matches!(s.update(Action::Cmd(Cmd::SelectTag)), Some(Effect::Message(m)) if m.contains("no tags"))
        );
        s.update(Action::Cmd(Cmd::Down));
        assert!(matches!(
            s.update(Action::Cmd(Cmd::SelectTag)),
            Some(Effect::Message(_))
        ));
        assert_eq!(s.selected_targets.len(), 3, "local + both web targets");
        s.update(Action::Cmd(Cmd::NextFocus));
        assert_eq!(s.focus, Focus::Presets);
        s.update(Action::Cmd(Cmd::Filter));
        typed(&mut s, "jvm");
        s.update(Action::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
        s.update(Action::Cmd(Cmd::Toggle));
        assert_eq!(s.request().presets, vec!["jvm".to_string()]);
        let err = s.preview.clone().expect_err("pid is required");
        assert!(err.contains("pid"), "{err}");
        s.update(Action::Cmd(Cmd::NextFocus));
        assert_eq!(s.focus, Focus::Params);
        s.update(Action::Cmd(Cmd::Select));
        typed(&mut s, "4242");
        s.update(Action::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        )));
        let plan = s.preview.clone().expect("valid with pid");
        assert!(
            plan.streams
                .iter()
                .any(|st| st.action.text().contains("'4242'"))
        );
        assert!(matches!(
            s.update(Action::Cmd(Cmd::AllowIntrusive)),
            Some(Effect::Confirm { .. })
        ));
    }
}
