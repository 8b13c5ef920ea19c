//! Shell templates: where each `{{name}}` sits in the command, and the command with the values
//! passed as data.
//!
//! A value never becomes shell text. The rendered step starts with a prologue that assigns each
//! parameter to a variable from a single-quoted literal (`CF_PARAM_pid='4242'`), and every
//! placeholder becomes a reference to that variable: `"$CF_PARAM_pid"` in a bare word,
//! `${CF_PARAM_pid}` inside double quotes or an unquoted heredoc body. The shell expands a
//! variable once and never parses the result again, so `$(id)` in a value stays text.
//!
//! What the shell itself would evaluate again is refused by [`analyze`], so `presets check`
//! catches it: a placeholder inside single quotes (not expanded, and usually a program for
//! another interpreter), backticks, `$(( ))`/`(( ))`/`$[ ]`, `${…}`, `[[ ]]`, a quoted heredoc,
//! after a `$'…'` string, the command word itself, a line whose command is named by an expansion,
//! and any line that hands text to an interpreter (`sh -c`, `eval`, `awk`, `sed`, `python`, SQL
//! clients, … see [`EVALUATORS`]). Words are compared by their unquoted text, so `"s"h` is `sh`.
use std::collections::BTreeMap;
use std::ops::Range;

/// The variable holding parameter `name` in the rendered script.
pub fn var_name(name: &str) -> String {
    format!("CF_PARAM_{name}")
}

/// Programs that read their arguments or input as code: a line running one may not hold a
/// parameter. The list cannot be complete; it covers what a preset plausibly calls.
#[rustfmt::skip]
pub const EVALUATORS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "csh", "tcsh", "fish", "busybox", "su",
    "runuser", "ssh", "script", "flock", "watch", "parallel", "tmux", "screen", "awk", "gawk",
    "mawk", "nawk", "sed", "perl", "python", "python2", "python3", "ruby", "node", "nodejs",
    "php", "lua", "tclsh", "expect", "gdb", "mysql", "mariadb", "psql", "sqlite3", "redis-cli",
    "mongo", "mongosh", "cqlsh", "clickhouse-client",
];

/// Shell builtins that evaluate an argument as code (or as a bash arithmetic subscript) when
/// they are the command word.
#[rustfmt::skip]
const EVALUATING_BUILTINS: &[&str] = &[
    ".", "source", "eval", "trap", "let", "declare", "typeset", "local", "readonly", "read",
    "unset", "mapfile", "readarray", "alias", "exec", "command",
];

const AWK_FAMILY: &[&str] = &["awk", "gawk", "mawk", "nawk"];

/// Evaluators that take their program from arguments only: text piped into them is data, so
/// only their own command counts (`tcpdump -r {{path}} | awk '…'` is fine). The others (shells,
/// interpreters, SQL clients) may read a script from stdin, so their whole line counts.
#[rustfmt::skip]
const PROGRAM_IN_ARGUMENTS: &[&str] = &[

    "awk", "gawk", "mawk", "nawk", "sed", "watch", "script", "flock", "parallel", "tmux", "screen",
];

/// How a placeholder is substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// In a bare word: `"$CF_PARAM_p"`.
    Word,
    /// Inside double quotes or an unquoted heredoc body: `${CF_PARAM_p}`.
    Quoted,
}

/// One placeholder of a template that may be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Byte range of `{{…}}` in the template.
    pub range: Range<usize>,
    pub name: String,
    pub spot: Spot,
}

/// A placeholder the shell would evaluate as code, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({hint})")]
pub struct TemplateError {
    /// Byte offset in the template.
    pub offset: usize,
    pub message: String,
    pub hint: String,
}

/// Where each placeholder of a shell template sits; an error for the first one whose value
/// the shell would evaluate as code.
pub fn analyze(template: &str) -> Result<Vec<Site>, TemplateError> {
    let mut lexer = Lexer {
        s: template.as_bytes(),
        text: template,
        i: 0,
        line: 0,
        continued: false,
        found: Vec::new(),
        words: Vec::new(),
        pending: Vec::new(),
        cmd_seq: 0,
        heredoc_cmd: None,
    };
    lexer.code(false);
    let Lexer { found, words, .. } = lexer;
    let mut sites = Vec::new();
    for f in found {
        let name = &f.name;
        if let Some(refusal) = f.refused {
            return Err(TemplateError {
                offset: f.range.start,
                message: format!("`{{{{{name}}}}}` {}", refusal.0),
                hint: refusal.1.replace("{p}", &format!("{{{{{name}}}}}")),
            });
        }
        if f.command_word {
            return Err(TemplateError {
                offset: f.range.start,
                message: format!("`{{{{{name}}}}}` would be the command to run"),
                hint: "a parameter can only be an argument of a command named in the preset".into(),
            });
        }
        let dynamic = words.iter().find(|w| {
            w.command_word
                && w.text.contains(EXPANSION)
                && (f.cmd == Some(w.cmd) || w.line == f.line)
        });
        if dynamic.is_some() {
            return Err(TemplateError {
                offset: f.range.start,
                message: format!(
                    "`{{{{{name}}}}}` is on a line whose command is named by an expansion ($…, `…`): it could be an interpreter that runs the value"
                ),
                hint: "name the program literally (e.g. ps, not $PS)".into(),
            });
        }
        let evaluator = words.iter().find_map(|w| {
            let base = w.text.rsplit('/').next().unwrap_or(&w.text);
            let same_command = f.cmd == Some(w.cmd);
            let reaches =
                same_command || (w.line == f.line && !PROGRAM_IN_ARGUMENTS.contains(&base));
            if !reaches {
                return None;
            }
            let awk_assignment = AWK_FAMILY.contains(&base) && f.awk_assignment;
            let is_eval = (EVALUATORS.contains(&base) && !awk_assignment)
                || (w.command_word && EVALUATING_BUILTINS.contains(&base));
            is_eval.then(|| base.to_string())
        });
        if let Some(program) = evaluator {
            return Err(TemplateError {
                offset: f.range.start,
                message: format!(
                    "`{{{{{name}}}}}` is on a line that runs `{program}`, which reads text as code: the value could run"
                ),
                hint: "keep parameters out of lines that hand text to an interpreter (sh -c, eval, awk/sed/perl programs, SQL clients); pass the value to a command that treats it as data".into(),
            });
        }
        sites.push(Site {
            range: f.range,
            name: f.name,
            spot: f.spot,
        });
    }
    Ok(sites)
}

/// The script to run: a prologue assigning each used parameter from a single-quoted literal,
/// then the template with placeholders replaced by references to those variables.
pub fn render(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let sites = analyze(template).map_err(|e| e.to_string())?;
    let mut prologue = String::new();
    let mut used = std::collections::BTreeSet::new();
    for site in &sites {
        if used.insert(site.name.as_str()) {
            let value = values
                .get(&site.name)
                .ok_or_else(|| format!("no value for parameter `{}`", site.name))?;
            prologue.push_str(&format!(
                "{}={}\n",
                var_name(&site.name),
                single_quote(value)
            ));
        }
    }
    let mut body = String::with_capacity(template.len() + 16 * sites.len());
    let mut last = 0;
    for site in &sites {
        body.push_str(&template[last..site.range.start]);
        let var = var_name(&site.name);
        match site.spot {
            Spot::Word => body.push_str(&format!("\"${var}\"")),
            Spot::Quoted => body.push_str(&format!("${{{var}}}")),
        }
        last = site.range.end;
    }
    body.push_str(&template[last..]);
    Ok(format!("{prologue}{body}"))
}

/// POSIX single-quoting: the one quoting that no byte inside can escape.
pub fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Why a placeholder is refused, and how to fix it (`{p}` stands for the placeholder).
type Refusal = (&'static str, &'static str);

const IN_SINGLE_QUOTES: Refusal = (
    "is inside single quotes: the shell would not substitute it, and quoted text is often a program for another interpreter",
    "end the quotes before it and reopen them after: 'text '{p}' more'",
);
const IN_BACKTICKS: Refusal = (
    "is inside backticks, whose text the shell parses again",
    "use $( … ) instead of backticks",
);
const IN_ARITHMETIC: Refusal = (
    "is inside $(( )) or (( )): the shell evaluates the value as an expression (bash runs $(…) found in it)",
    "compare with test instead, e.g. [ {p} -gt 5 ]",
);
const IN_BRACES: Refusal = (
    "is inside ${…}, where the shell may evaluate it as a pattern or expression",
    "use {p} as a word of its own",
);
const IN_DOUBLE_BRACKETS: Refusal = (
    "is inside [[ ]], where bash evaluates operands of -eq, -lt … as arithmetic",
    "use [ … ] (test) instead of [[ … ]]",
);
const AFTER_ANSI_C_QUOTES: Refusal = (
    "follows a $'…' string, which bash and dash end at different quotes, so where the value lands is unclear",
    "use '…' or \"…\" instead of $'…'",
);
const IN_QUOTED_HEREDOC: Refusal = (
    "is in a heredoc with a quoted delimiter, where the shell does not substitute it",
    "use an unquoted delimiter (<<EOF) so the value is expanded as data",
);

struct Found {
    range: Range<usize>,
    name: String,
    spot: Spot,
    line: usize,
    /// The simple command it is part of (`None` in a comment).
    cmd: Option<usize>,
    command_word: bool,
    /// `-v name={{p}}`: an awk variable assignment (data, not program text).
    awk_assignment: bool,
    refused: Option<Refusal>,
}

/// A completed bare word and the logical line it is on.
struct Word {
    text: String,
    line: usize,
    cmd: usize,
    command_word: bool,
}

struct PendingHeredoc {
    delimiter: String,
    quoted: bool,
    strip_tabs: bool,
    line: usize,
    /// The command whose stdin the body is.
    cmd: usize,
}

/// The state of the simple command being read.
#[derive(Default)]
struct Cmd {
    id: usize,
    /// Words that count as command or argument so far (not assignments, not redirection targets).
    count: usize,
    word: Option<String>,
    word_is_command: bool,
    redirect_next: bool,
    last_word: Option<String>,
    /// Kept across the commands of one frame: `case … in pattern) …;; esac`.
    case: CaseState,
}

/// Where a frame is in `case` statements: a pattern's `)` must not read as the end of `$(`.
#[derive(Default, Clone, Copy)]
struct CaseState {
    open: usize,
    awaiting_in: bool,
    patterns: bool,
}

struct Lexer<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    /// Logical line: pipelines and `\`-continued lines are one line.
    line: usize,
    /// The line ended in `|`, `&&`, `||` or `\`: the next physical line continues it.
    continued: bool,
    found: Vec<Found>,
    words: Vec<Word>,
    pending: Vec<PendingHeredoc>,
    cmd_seq: usize,
    /// The command a heredoc body being read belongs to.
    heredoc_cmd: Option<usize>,
}

/// Stands for a placeholder in a word's text.
const MARK: &str = "\u{0}";
/// Stands for an expansion (`$x`, `${…}`, `$(…)`, backticks) in a word's text: a command named
/// by one could be anything, an interpreter included.
const EXPANSION: &str = "\u{1}";

/// Length of a parameter name after `$` at `rest` (`$x`, `$1`, `$@`, `$?` …), 0 if none.
fn parameter_len(rest: &[u8]) -> usize {
    match rest.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count(),
        Some(b) if b.is_ascii_digit() || b"@*#?$!-".contains(b) => 1,
        _ => 0,
    }
}

fn is_assignment(word: &str) -> bool {
    let Some(eq) = word.find('=') else {
        return false;
    };
    let name = &word[..eq];
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[rustfmt::skip]
const RESERVED_RESET: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time",
    "esac",
];

impl Lexer<'_> {
    fn peek(&self, at: usize) -> Option<u8> {
        self.s.get(self.i + at).copied()
    }

    fn starts(&self, text: &str) -> bool {
        self.s[self.i..].starts_with(text.as_bytes())
    }

    /// `{{name}}` at the cursor: its end and trimmed name.
    fn placeholder_here(&self) -> Option<(usize, String)> {
        if !self.starts("{{") {
            return None;
        }
        let rest = &self.text[self.i + 2..];
        let len = rest.find("}}")?;
        Some((self.i + 2 + len + 2, rest[..len].trim().to_string()))
    }

    fn record(&mut self, end: usize, name: String, spot: Spot, cmd: Option<&Cmd>) {
        let command_word =
            cmd.is_some_and(|c| c.word_is_command && !c.word.as_deref().is_some_and(is_assignment));
        let awk_assignment = cmd.is_some_and(|c| {
            c.last_word.as_deref() == Some("-v") && c.word.as_deref().is_some_and(is_assignment)
        });
        self.found.push(Found {
            range: self.i..end,
            name,
            spot,
            line: self.line,
            cmd: cmd.map(|c| c.id).or(self.heredoc_cmd),
            command_word,
            awk_assignment,
            refused: None,
        });
        self.i = end;
    }

    fn refuse(&mut self, end: usize, name: String, why: Refusal) {
        self.found.push(Found {
            range: self.i..end,
            name,
            spot: Spot::Word,
            line: self.line,
            cmd: None,
            command_word: false,
            awk_assignment: false,
            refused: Some(why),
        });
        self.i = end;
    }

    fn start_word(&self, cmd: &mut Cmd) {
        if cmd.word.is_none() {
            cmd.word = Some(String::new());
            cmd.word_is_command = cmd.count == 0 && !cmd.redirect_next;
        }
    }

    fn push_char(&self, cmd: &mut Cmd, c: &str) {
        self.start_word(cmd);
        if let Some(w) = cmd.word.as_mut() {
            w.push_str(c);
        }
    }

    fn end_word(&mut self, cmd: &mut Cmd) {
        let Some(word) = cmd.word.take() else { return };
        let command_position = cmd.count == 0 && !cmd.redirect_next;
        match word.as_str() {
            "case" if command_position => {
                cmd.case.open += 1;
                cmd.case.awaiting_in = true;
            }
            "in" if cmd.case.awaiting_in => {
                cmd.case.awaiting_in = false;
                cmd.case.patterns = true;
            }
            "esac" if command_position && cmd.case.open > 0 => {
                cmd.case.open -= 1;
                cmd.case.patterns = false;
            }
            _ => {}
        }
        let counts = if cmd.redirect_next {
            cmd.redirect_next = false;
            false
        } else {
            // Assignments and reserved words before the command do not make it an argument.
            cmd.count > 0 || !(is_assignment(&word) || RESERVED_RESET.contains(&word.as_str()))
        };
        if counts {
            self.words.push(Word {
                text: word.clone(),
                line: self.line,
                cmd: cmd.id,
                command_word: cmd.count == 0,
            });
            cmd.count += 1;
        }
        cmd.last_word = Some(word);
    }

    fn end_command(&mut self, cmd: &mut Cmd) {
        self.end_word(cmd);
        let case = cmd.case;
        *cmd = self.new_cmd();
        cmd.case = case;
    }

    fn new_cmd(&mut self) -> Cmd {
        self.cmd_seq += 1;
        Cmd {
            id: self.cmd_seq,
            ..Cmd::default()
        }
    }

    /// Reads commands until the end, or until the `)` that closes `$(` when `nested`.
    fn code(&mut self, nested: bool) {
        let mut cmd = self.new_cmd();
        let mut depth = 0usize;
        while self.i < self.s.len() {
            if let Some((end, name)) = self.placeholder_here() {
                self.start_word(&mut cmd);
                self.record(end, name, Spot::Word, Some(&cmd));
                self.push_char(&mut cmd, MARK);
                continue;
            }
            let c = self.s[self.i];
            match c {
                b' ' | b'\t' => {
                    self.end_word(&mut cmd);
                    self.i += 1;
                }
                b'\n' => {
                    self.end_command(&mut cmd);
                    self.i += 1;
                    self.heredoc_bodies();
                    if !std::mem::take(&mut self.continued) {
                        self.line += 1;
                    }
                }
                b'\\' => {
                    if self.peek(1) == Some(b'\n') {
                        self.end_word(&mut cmd);
                        self.i += 2;
                    } else {
                        self.i += 1;
                        self.take_char(&mut cmd);
                    }
                }
                b'\'' => {
                    self.start_word(&mut cmd);
                    self.i += 1;
                    let start = self.i;
                    self.refuse_until(|l| l.s[l.i] == b'\'', IN_SINGLE_QUOTES);
                    let content = self.text.get(start..self.i).unwrap_or("").to_string();
                    self.push_char(&mut cmd, &content);
                    self.i += 1;
                }
                b'"' => {
                    self.start_word(&mut cmd);
                    self.i += 1;
                    self.double_quoted(&mut cmd);
                }
                b'`' => {
                    self.start_word(&mut cmd);
                    self.backticks();
                    self.push_char(&mut cmd, EXPANSION);
                }
                b'$' if self.starts("$((") => {
                    self.start_word(&mut cmd);
                    self.arithmetic(3);
                    self.push_char(&mut cmd, EXPANSION);
                }
                b'$' if self.starts("$'") => {
                    // Everything after it is ambiguous: refuse the rest of the template.
                    self.refuse_until(|_| false, AFTER_ANSI_C_QUOTES);
                }
                b'$' if self.starts("$[") => {
                    // bash's old arithmetic form.
                    self.start_word(&mut cmd);
                    self.i += 2;
                    self.refuse_until(|l| l.s[l.i] == b']', IN_ARITHMETIC);
                    self.i += 1;
                    self.push_char(&mut cmd, EXPANSION);
                }
                b'$' if self.starts("$(") => {
                    self.start_word(&mut cmd);
                    self.i += 2;
                    self.code(true);
                    self.push_char(&mut cmd, EXPANSION);
                }
                b'$' if self.starts("${") => {
                    self.start_word(&mut cmd);
                    self.braces();
                    self.push_char(&mut cmd, EXPANSION);
                }
                b'$' if parameter_len(&self.s[self.i + 1..]) > 0 => {
                    self.start_word(&mut cmd);
                    self.i += 1 + parameter_len(&self.s[self.i + 1..]);
                    self.push_char(&mut cmd, EXPANSION);
                }
                b'#' if cmd.word.is_none() => {
                    // A comment: its placeholders are substituted as words (harmless there).
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        if let Some((end, name)) = self.placeholder_here() {
                            self.record(end, name, Spot::Word, None);
                        } else {
                            self.i += 1;
                        }
                    }
                }
                // `(( … ))` and bash's `for (( … ))`.
                b'(' if cmd.word.is_none()
                    && (cmd.count == 0 || cmd.last_word.as_deref() == Some("for"))
                    && self.starts("((") =>
                {
                    self.arithmetic(2);
                }
                b'[' if cmd.word.is_none() && cmd.count == 0 && self.starts("[[") => {
                    self.i += 2;
                    self.refuse_until(|l| l.starts("]]"), IN_DOUBLE_BRACKETS);
                    self.i += 2;
                }
                b'(' if cmd.case.patterns && cmd.word.is_none() && cmd.count == 0 => {
                    self.i += 1;
                }
                b')' if cmd.case.patterns && cmd.word.as_deref() != Some("esac") => {
                    self.end_command(&mut cmd);
                    cmd.case.patterns = false;
                    self.i += 1;
                }
                b'(' => {
                    self.end_command(&mut cmd);
                    depth += 1;
                    self.i += 1;
                }
                b')' => {
                    self.end_command(&mut cmd);
                    self.i += 1;
                    if depth == 0 && nested {
                        return;
                    }
                    depth = depth.saturating_sub(1);
                }
                b';' | b'&' | b'|' => {
                    self.end_command(&mut cmd);
                    if c == b';' && cmd.case.open > 0 && matches!(self.peek(1), Some(b';' | b'&')) {
                        cmd.case.patterns = true;
                    }
                    let two = self.peek(1) == Some(c);
                    self.i += if two { 2 } else { 1 };
                    self.continued = c == b'|' || (c == b'&' && two);
                }
                b'<' | b'>' => {
                    self.end_word(&mut cmd);
                    if self.starts("<<") && !self.starts("<<<") {
                        self.i += 2;
                        self.heredoc_start(cmd.id);
                    } else {
                        while self.i < self.s.len() && matches!(self.s[self.i], b'<' | b'>' | b'&')
                        {
                            self.i += 1;
                        }
                    }
                    cmd.redirect_next = true;
                }
                _ => self.take_char(&mut cmd),
            }
            if !matches!(c, b'|' | b'&' | b'\n' | b' ' | b'\t') {
                self.continued = false;
            }
        }
        self.end_command(&mut cmd);
    }

    /// Appends the (possibly multi-byte) character at the cursor to the word.
    fn take_char(&mut self, cmd: &mut Cmd) {
        let Some(ch) = self.text[self.i..].chars().next() else {
            self.i = self.s.len();
            return;
        };
        let mut buf = [0u8; 4];
        self.push_char(cmd, ch.encode_utf8(&mut buf));
        self.i += ch.len_utf8();
    }

    /// Skips to where `at_end` holds (or the end), refusing every placeholder on the way.
    fn refuse_until(&mut self, at_end: impl Fn(&Self) -> bool, why: Refusal) {
        while self.i < self.s.len() && !at_end(self) {
            if let Some((end, name)) = self.placeholder_here() {
                self.refuse(end, name, why);
            } else {
                self.i += 1;
            }
        }
    }

    fn backticks(&mut self) {
        self.i += 1;
        while self.i < self.s.len() && self.s[self.i] != b'`' {
            if let Some((end, name)) = self.placeholder_here() {
                self.refuse(end, name, IN_BACKTICKS);
            } else {
                self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
            }
        }
        self.i += 1;
    }

    /// `$((…))` or `((…))`, `open` bytes long: until the parentheses balance.
    fn arithmetic(&mut self, open: usize) {
        self.i += open;
        let mut depth = 2usize;
        while self.i < self.s.len() && depth > 0 {
            if let Some((end, name)) = self.placeholder_here() {
                self.refuse(end, name, IN_ARITHMETIC);
                continue;
            }
            match self.s[self.i] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            self.i += 1;
        }
    }

    fn braces(&mut self) {
        self.i += 2;
        let mut depth = 1usize;
        while self.i < self.s.len() && depth > 0 {
            if let Some((end, name)) = self.placeholder_here() {
                self.refuse(end, name, IN_BRACES);
                continue;
            }
            match self.s[self.i] {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                b'\\' => self.i += 1,
                _ => {}
            }
            self.i += 1;
        }
    }

    /// Inside `"…"` (the cursor after the opening quote): up to and past the closing quote.
    fn double_quoted(&mut self, cmd: &mut Cmd) {
        while self.i < self.s.len() {
            if let Some((end, name)) = self.placeholder_here() {
                self.record(end, name, Spot::Quoted, Some(cmd));
                self.push_char(cmd, MARK);
                continue;
            }
            match self.s[self.i] {
                b'"' => {
                    self.i += 1;
                    return;
                }
                b'\\' => {
                    self.i += 1;
                    self.take_char(cmd);
                }
                b'`' => {
                    self.backticks();
                    self.push_char(cmd, EXPANSION);
                }
                b'$' if self.starts("$((") => {
                    self.arithmetic(3);
                    self.push_char(cmd, EXPANSION);
                }
                b'$' if self.starts("$[") => {
                    self.i += 2;
                    self.refuse_until(|l| l.s[l.i] == b']', IN_ARITHMETIC);
                    self.i += 1;
                }
                b'$' if self.starts("$(") => {
                    self.i += 2;
                    let saved = self.line;
                    self.code(true);
                    self.line = saved;
                    self.push_char(cmd, EXPANSION);
                }
                b'$' if self.starts("${") => {
                    self.braces();
                    self.push_char(cmd, EXPANSION);
                }
                b'$' if parameter_len(&self.s[self.i + 1..]) > 0 => {
                    self.i += 1 + parameter_len(&self.s[self.i + 1..]);
                    self.push_char(cmd, EXPANSION);
                }
                _ => self.take_char(cmd),
            }
        }
    }

    /// After `<<`: the delimiter word; the body is read at the end of the line.
    fn heredoc_start(&mut self, cmd: usize) {
        let strip_tabs = self.peek(0) == Some(b'-');
        if strip_tabs {
            self.i += 1;
        }
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        let mut delimiter = String::new();
        let mut quoted = false;
        while let Some(c) = self.peek(0) {
            match c {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
                b'\'' | b'"' | b'\\' => {
                    quoted = true;
                    self.i += 1;
                }
                _ => {
                    let Some(ch) = self.text[self.i..].chars().next() else {
                        break;
                    };
                    delimiter.push(ch);
                    self.i += ch.len_utf8();
                }
            }
        }
        self.pending.push(PendingHeredoc {
            delimiter,
            quoted,
            strip_tabs,
            line: self.line,
            cmd,
        });
    }

    /// At the start of the line after `<<DELIM`: reads each pending heredoc's body.
    fn heredoc_bodies(&mut self) {
        for doc in std::mem::take(&mut self.pending) {
            let saved = self.line;
            self.line = doc.line;
            self.heredoc_cmd = Some(doc.cmd);
            loop {
                if self.i >= self.s.len() {
                    break;
                }
                let line_end = self.text[self.i..]
                    .find('\n')
                    .map_or(self.s.len(), |n| self.i + n);
                let line = &self.text[self.i..line_end];
                let line = if doc.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if line == doc.delimiter {
                    self.i = (line_end + 1).min(self.s.len());
                    break;
                }
                if doc.quoted {
                    self.refuse_until(|l| l.i >= line_end, IN_QUOTED_HEREDOC);
                } else {
                    self.heredoc_line(line_end);
                }
                self.i = (line_end + 1).min(self.s.len()).max(self.i);
            }
            self.line = saved;
            self.heredoc_cmd = None;
        }
    }

    /// One line of an unquoted heredoc body: expanded like double-quoted text (quotes are plain).
    fn heredoc_line(&mut self, line_end: usize) {
        while self.i < line_end {
            if let Some((end, name)) = self.placeholder_here() {
                self.record(end, name, Spot::Quoted, None);
                continue;
            }
            match self.s[self.i] {
                b'\\' => self.i += 2,
                b'`' => self.backticks(),
                b'$' if self.starts("$((") => self.arithmetic(3),
                b'$' if self.starts("$[") => {
                    self.i += 2;
                    self.refuse_until(|l| l.i >= line_end || l.s[l.i] == b']', IN_ARITHMETIC);
                    self.i += 1;
                }
                b'$' if self.starts("$(") => {
                    self.i += 2;
                    let saved = self.line;
                    self.code(true);
                    self.line = saved;
                }
                b'$' if self.starts("${") => self.braces(),
                _ => self.i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spots(template: &str) -> Vec<Spot> {
        analyze(template)
            .expect("accepted")
            .into_iter()
            .map(|s| s.spot)
            .collect()
    }

    fn refused(template: &str) -> String {
        analyze(template).expect_err("refused").message
    }

    #[test]
    fn data_positions_are_accepted() {
        assert_eq!(
            spots("tail -n {{n}} {{path}}"),
            vec![Spot::Word, Spot::Word]
        );
        assert_eq!(spots("echo \"x {{p}} y\""), vec![Spot::Quoted]);
        assert_eq!(spots("cat /proc/{{pid}}/status"), vec![Spot::Word]);
        assert_eq!(spots("cat <<EOF\nx {{p}} y\nEOF\n"), vec![Spot::Quoted]);
        assert_eq!(spots("X={{p}} env"), vec![Spot::Word]);
        assert_eq!(
            spots("for t in /proc/{{pid}}/task/*; do echo $t; done"),
            vec![Spot::Word]
        );
        assert_eq!(spots("echo \"$(cat {{p}})\""), vec![Spot::Word]);
        assert_eq!(spots("awk -v x={{p}} '{print x}' f"), vec![Spot::Word]);
        assert_eq!(spots("tcpdump -r {{p}} | awk '{print}'"), vec![Spot::Word]);
    }

    #[test]
    fn code_positions_are_refused() {
        assert!(refused("echo 'x {{p}} y'").contains("single quotes"));
        assert!(refused("echo `echo {{p}}`").contains("backticks"));
        assert!(refused("echo $(( {{p}} + 1 ))").contains("$(( ))"));
        assert!(refused("(( {{p}} > 1 ))").contains("$(( ))"));
        assert!(refused("for (( i = 0; i < {{p}}; i++ )); do :; done").contains("$(( ))"));
        assert!(refused("echo $[ {{p}} + 1 ]").contains("$(( ))"));
        assert!(refused("echo $'\\'' eval {{p}}").contains("$'…'"));
        assert!(refused("echo \"$[ {{p}} + 1 ]\"").contains("$(( ))"));
        assert!(refused("cat <<EOF\n$[ {{p}} ]\nEOF\n").contains("$(( ))"));
        assert!(refused("a[{{p}}]=1").contains("command to run"));
        assert!(refused("echo ${x:-{{p}}}").contains("${…}"));
        assert!(refused("[[ {{p}} -gt 1 ]]").contains("[[ ]]"));
        assert!(refused("cat <<'EOF'\n{{p}}\nEOF\n").contains("quoted delimiter"));
        assert!(refused("{{p}} --help").contains("command to run"));
        assert!(refused("eval \"echo {{p}}\"").contains("`eval`"));
        assert!(refused("sh -c \"echo {{p}}\"").contains("`sh`"));
        assert!(refused("echo {{p}} | sh").contains("`sh`"));
        assert!(refused("sudo -n bash -c \"x {{p}}\"").contains("`bash`"));
        assert!(refused("sh <<EOF\necho {{p}}\nEOF\n").contains("`sh`"));
        assert!(refused("awk \"{print {{p}}}\" f").contains("`awk`"));
        assert!(refused(". {{p}}").contains("`.`"));
        // Quoting or escaping a program's name does not hide it; nor does naming it by a variable.
        assert!(refused("\"sh\" -c \"{{p}}\"").contains("`sh`"));
        assert!(refused("s'h' -c \"{{p}}\"").contains("`sh`"));
        assert!(refused("\\eval \"{{p}}\"").contains("`eval`"));
        assert!(refused("$SHELL -c \"{{p}}\"").contains("expansion"));
        assert!(refused("echo {{p}} | `which sh`").contains("expansion"));
        // A case pattern's `)` does not end the `$(`: the eval inside is still seen.
        assert!(refused("echo \"$(case x in a) eval {{p}};; esac)\"").contains("`eval`"));
        assert_eq!(
            spots("echo \"$(case x in a) echo {{p}};; (b) echo;; esac) {{p}}\""),
            vec![Spot::Word, Spot::Quoted]
        );
    }

    #[test]
    fn rendered_values_stay_data() {
        let values = BTreeMap::from([("p".to_string(), "a'b $(id) `id` \"c\"".to_string())]);
        let script = render("printf '%s|' {{p}} \"{{p}}\"", &values).expect("render");
        assert!(
            script.starts_with("CF_PARAM_p='a'\\''b $(id) `id` \"c\"'\n"),
            "{script}"
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "a'b $(id) `id` \"c\"|a'b $(id) `id` \"c\"|"
        );
    }
}
