//! Property tests for the text users write: the preset parser, the config parser and the
//! template analysers never panic, whatever the input, and every error names file:line:col
//! inside the file. Inputs are arbitrary text and mutations (inserted quotes, brackets,
//! braces, newlines, deleted and repeated spans) of real files: the built-in presets, the
//! injection corpus and a full config.
use casefile::config::Config;
use casefile::model::TargetKind;
use casefile::preset::{ParamKind, PresetOrigin, parse_preset, shell, sql};
use casefile::source_error::SourceError;
use proptest::prelude::*;
use std::collections::BTreeMap;

const CONFIG_SEED: &str = r#"
capture_dir = "/var/tmp/casefile"
concurrency = 8
timeout = "30s"
max_bytes = "256MiB"

[secrets.orders_db]
env = "ORDERS_DB_PASSWORD"

[secrets.api_key]
command = "vault kv get -field=password secret/x"
always_redact = true

[targets.web1]
url = "ssh://deploy@web1.internal:22"
tags = ["web", "prod"]

[targets.orders]
url = "mysql://casefile@db1.internal:3306/orders"
password_secret = "orders_db"
tags = ["db", "prod"]
via = "web1"

[targets.pg]
url = "postgres://app@db2/app"
tls = "verify-full"
tls_ca = "/etc/ca.pem"

[destinations]
s3 = "s3://incident-captures/casefile/"
pagerduty_from = "oncall@example.com"
"#;

/// (file name, text) of every seed preset.
fn preset_seeds() -> Vec<(String, String)> {
    let mut seeds = Vec::new();
    for dir in [
        "presets",
        "tests/fixtures/presets/inert",
        "tests/fixtures/presets/refused",
        "tests/fixtures/bad-presets",
    ] {
        for entry in std::fs::read_dir(dir).expect("seed dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("seed");
                seeds.push((path.display().to_string(), text));
            }
        }
    }
    seeds.sort();
    seeds
}

/// One edit of a text: where (a fraction of its length), what, and with which character.
#[derive(Debug, Clone)]
enum Edit {
    Insert(u16, char),
    Delete(u16, u8),
    Repeat(u16, u8),
    Replace(u16, char),
}

fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '"', '\'', '\n', '[', ']', '{', '}', '=', '#', '\\', '.', ',', '-', '_', '$', '`', '(',
            ')', '0', '9', 'a', 'z', ' ', '\t', '|', ';', '<', '*', '/',
        ]),
        1 => any::<char>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<u16>(), interesting_char()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<u16>(), any::<u8>()).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<u16>(), any::<u8>()).prop_map(|(at, n)| Edit::Repeat(at, n)),
        (any::<u16>(), interesting_char()).prop_map(|(at, c)| Edit::Replace(at, c)),
    ]
}

/// Applies edits at char boundaries.
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let at = |frac: u16, len: usize| (frac as usize * (len + 1)) / (u16::MAX as usize + 1);
        match *e {
            Edit::Insert(f, c) => {
                let i = at(f, chars.len());
                chars.insert(i, c);
            }
            Edit::Delete(f, n) => {
                let i = at(f, chars.len());
                let end = (i + n as usize % 40).min(chars.len());
                chars.drain(i..end);
            }
            Edit::Repeat(f, n) => {
                let i = at(f, chars.len());
                let end = (i + n as usize % 60).min(chars.len());
                let span: Vec<char> = chars[i..end].to_vec();
                chars.splice(end..end, span);
            }
            Edit::Replace(f, c) => {
                if !chars.is_empty() {
                    let i = at(f, chars.len() - 1);
                    chars[i] = c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

/// The error names `file`, a line of the text (or the one after its end) and a column.
fn assert_located(err: &SourceError, file: &str, text: &str) {
    let lines = text.split('\n').count();
    assert_eq!(err.file, file, "{err}");
    assert!(
        err.line >= 1 && err.line <= lines + 1,
        "line {} of {lines}: {err}",
        err.line
    );
    assert!(err.column >= 1, "{err}");
    assert!(!err.message.trim().is_empty(), "{err}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{file}:{}:{}: ", err.line, err.column)),
        "{shown}"
    );
}

/// A rendered shell step keeps values in its prologue: the command itself never holds them.
fn assert_values_only_in_prologue(rendered: &str, template: &str, value: &str) {
    if value.len() < 8 || template.contains(value) {
        return;
    }
    let body: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.starts_with("CF_PARAM_"))
        .collect();
    assert!(
        !body.join("\n").contains(value),
        "value reached the command: {rendered}"
    );
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_presets_parse_or_fail_at_a_location(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 0..6),
        value in "Zq[ -~]{6,30}",
    ) {
        let seeds = preset_seeds();
        let (file, text) = &seeds[seed.index(seeds.len())];
        let text = mutate(text, &edits);
        match parse_preset(file, &text, PresetOrigin::Builtin) {
            Err(e) => assert_located(&e, file, &text),
            Ok(preset) => {
                // Every step renders with any value, or says why not; none panics.
                let given: BTreeMap<String, String> =
                    preset.params.keys().map(|k| (k.clone(), value.clone())).collect();
                if let Ok(values) = preset.resolve_params(&given) {
                    for step in &preset.steps {
                        if let Ok(action) = preset.render_step(step, &values, preset.target)
                            && preset.target == TargetKind::Shell
                        {
                            assert_values_only_in_prologue(action.text(), step.action.text(), &value);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_text_is_never_a_panic_for_the_preset_parser(text in "\\PC{0,400}") {
        if let Err(e) = parse_preset("any.toml", &text, PresetOrigin::Builtin) {
            assert_located(&e, "any.toml", &text);
        }
    }

    #[test]
    fn mutated_configs_parse_or_fail_at_a_location(
        edits in prop::collection::vec(edit(), 0..6),
    ) {
        let text = mutate(CONFIG_SEED, &edits);
        if let Err(e) = Config::parse("casefile.toml", &text) {
            assert_located(&e, "casefile.toml", &text);
        }
    }

    #[test]
    fn arbitrary_text_is_never_a_panic_for_the_config_parser(text in "\\PC{0,400}") {
        if let Err(e) = Config::parse("casefile.toml", &text) {
            assert_located(&e, "casefile.toml", &text);
        }
    }

    #[test]
    fn templates_are_analysed_without_panic_and_values_stay_out_of_the_text(
        template in "([a-z ]|[\"'`$(){}<>|;&#\\\\\\n]|\\{\\{p\\}\\}|<<EOF\\n|\\nEOF\\n|--|/\\*|\\*/|E'){0,40}",
        value in "Zq[ -~]{6,30}",
    ) {
        let values = BTreeMap::from([("p".to_string(), value.clone())]);
        match shell::analyze(&template) {
            Ok(sites) => match shell::render(&template, &values) {
                Ok(rendered) => assert_values_only_in_prologue(&rendered, &template, &value),
                // Only `{{p}}` has a value here; other names are the parser's to refuse.
                Err(e) => assert!(sites.iter().any(|s| s.name != "p"), "{e}"),
            },
            Err(e) => assert!(e.offset <= template.len()),
        }
        let kinds = BTreeMap::from([("p", ParamKind::Text)]);
        for target in [TargetKind::Mysql, TargetKind::Postgres, TargetKind::Sqlite] {
            match sql::analyze(&template, target) {
                Ok(sites) => match sql::render(&template, &values, &kinds, target) {
                    Ok(rendered) => {
                        let literal = sql::literal(&value, ParamKind::Text, target).expect("literal");
                        assert!(rendered.matches(&literal).count() >= sites.len());
                    }
                    Err(e) => assert!(sites.iter().any(|s| s.name != "p"), "{e}"),
                },
                Err(e) => assert!(e.offset <= template.len()),
            }
        }
    }
}
