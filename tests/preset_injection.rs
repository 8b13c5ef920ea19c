//! A parameter value never becomes shell or SQL text. The corpus in tests/fixtures/presets/:
//! `inert/` holds every form a placeholder may take, run here with hostile values on the local
//! target, over a real sshd and against real MariaDB, PostgreSQL and SQLite; each value tries to
//! create a marker file, and each run proves the marker is not created and the value comes back
//! verbatim. `refused/` holds the forms that would still evaluate a value as code: each is
//! refused at file:line:col with a fix, and a capture with it runs nothing.
mod support;

use casefile::model::TargetKind;
use casefile::preset::{PresetOrigin, load_file};
use casefile::snapshot::Manifest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::cli::{Sandbox, stderr, stdout};

const INERT: &str = "tests/fixtures/presets/inert";
const REFUSED: &str = "tests/fixtures/presets/refused";

/// Shell values that run `touch MARKER` if they ever become shell text (`{m}` is the marker).
const SHELL_VALUES: &[&str] = &[
    "$(touch {m})",
    "`touch {m}`",
    "'; touch {m}; '",
    "\"; touch {m}; \"",
    "x' \"$(touch {m})\" 'y",
    "a[$(touch {m})]",
    "$(touch${IFS}{m})",
    "; touch {m} #",
    "| touch {m}",
    "&& touch {m}",
    "EOF $(touch {m})",
    "$((1)) $(touch {m})",
    "%s $(touch {m}) \\\"; touch {m}",
];

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// A temp dir any user (the SSH test user, the postgres server) may write markers into.
fn marker_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("marker dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

fn no_markers(dir: &Path, context: &str) {
    let made: Vec<_> = std::fs::read_dir(dir)
        .expect("marker dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(made.is_empty(), "{context}: a value ran as code: {made:?}");
}

#[test]
fn every_refused_form_is_named_at_file_line_column_with_a_fix() {
    let corpus = files(REFUSED);
    assert!(corpus.len() >= 20, "corpus has {} files", corpus.len());
    for path in &corpus {
        let text = std::fs::read_to_string(path).expect("read");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .expect("first line says what to expect");
        let (position, message) = expect.split_once(": ").expect("L:C: message");
        let err = load_file(path, PresetOrigin::File(path.clone())).expect_err("refused");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}:{position}: ", path.display())),
            "{}: got `{shown}`, expected position {position}",
            path.display()
        );
        assert!(shown.contains(message), "{}: got `{shown}`", path.display());
        assert!(err.hint.is_some(), "{}: no fix offered", path.display());
    }
    // The same through `presets check`: every file reported, exit 2.
    let sandbox = Sandbox::new();
    let mut args = vec!["presets".to_string(), "check".to_string()];
    args.extend(corpus.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = sandbox.run(&args);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    for path in &corpus {
        assert!(
            stderr(&output).contains(&format!("{}:", path.display())),
            "{} not reported: {}",
            path.display(),
            stderr(&output)
        );
    }
}

#[test]
fn inert_forms_and_every_built_in_preset_pass_the_check() {
    let sandbox = Sandbox::new();
    let mut args = vec!["presets".to_string(), "check".to_string()];
    args.extend(files(INERT).iter().map(|p| p.display().to_string()));
    args.extend(files("presets").iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = sandbox.run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// The snapshot a CLI capture made.
struct Capture {
    dir: PathBuf,
    manifest: Manifest,
}

impl Capture {
    fn latest(out_dir: &Path) -> Capture {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(out_dir)
            .expect("captures")
            .map(|e| e.expect("entry").path())
            .collect();
        dirs.sort();
        let dir = dirs.pop().expect("a snapshot");
        let manifest =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
                .expect("manifest json");
        Capture { dir, manifest }
    }

    fn stdout(&self, step: &str) -> String {
        let stream = self
            .manifest
            .streams
            .iter()
            .find(|s| s.spec.step == step)
            .unwrap_or_else(|| panic!("no stream {step}"));
        String::from_utf8_lossy(
            &std::fs::read(self.dir.join(&stream.result.stdout.path)).expect("stdout"),
        )
        .into_owned()
    }
}

/// A sandbox whose user preset dir holds `presets`.
fn sandbox_with(presets: &[PathBuf]) -> Sandbox {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("config/casefile/presets");
    std::fs::create_dir_all(&dir).expect("preset dir");
    for p in presets {
        std::fs::copy(p, dir.join(p.file_name().expect("name"))).expect("copy preset");
    }
    sandbox
}

/// Runs the inert shell preset with every hostile value on `target` (None = local): each step
/// prints `x VALUE y` and no marker appears.
fn shell_values_stay_data(target: Option<&str>, prepare: impl Fn(&mut std::process::Command)) {
    let sandbox = sandbox_with(&[Path::new(INERT).join("inert-shell.toml")]);
    let markers = marker_dir();
    let preset = load_file(
        &Path::new(INERT).join("inert-shell.toml"),
        PresetOrigin::Builtin,
    )
    .expect("inert preset");
    for (n, value) in SHELL_VALUES.iter().enumerate() {
        let marker = markers.path().join(format!("m{n}"));
        let value = value.replace("{m}", &marker.display().to_string());
        let out_dir = sandbox.path().join(format!("captures-{n}"));
        let mut cmd = sandbox.command();
        prepare(&mut cmd);
        cmd.args(["capture", "--out", out_dir.to_str().expect("utf8")]);
        if let Some(target) = target {
            cmd.args(["--target", target]);
        }
        let output = cmd
            .args(["--preset", "inert-shell", "--param", &format!("p={value}")])
            .output()
            .expect("run casefile");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{value}: {}",
            stderr(&output)
        );
        let capture = Capture::latest(&out_dir);
        for step in &preset.steps {
            assert_eq!(
                capture.stdout(&step.name),
                format!("x {value} y\n"),
                "step {} with value {value}",
                step.name
            );
        }
        no_markers(markers.path(), &value);
    }
}

#[test]
fn hostile_values_stay_data_on_the_local_target() {
    // The corpus is hostile: substituted as text (what casefile did before), a value runs.
    let markers = marker_dir();
    let marker = markers.path().join("control");
    let value = SHELL_VALUES[0].replace("{m}", &marker.display().to_string());
    std::process::Command::new("sh")
        .args(["-c", &format!("echo \"x {value} y\"")])
        .output()
        .expect("sh");
    assert!(marker.exists(), "the control injection did not run");

    shell_values_stay_data(None, |_| {});
}

#[test]
fn rendered_steps_are_inert_under_bash_posix_bash_and_dash() {
    // Remote hosts' /bin/sh is often bash (RHEL), whose arithmetic and subscripts evaluate more.
    let preset = load_file(
        &Path::new(INERT).join("inert-shell.toml"),
        PresetOrigin::Builtin,
    )
    .expect("inert preset");
    let markers = marker_dir();
    for shell in [
        &["/bin/bash", "-c"][..],
        &["/bin/bash", "--posix", "-c"],
        &["/bin/dash", "-c"],
    ] {
        for (n, value) in SHELL_VALUES.iter().enumerate() {
            let marker = markers.path().join(format!("m{n}"));
            let value = value.replace("{m}", &marker.display().to_string());
            let values = preset
                .resolve_params(&BTreeMap::from([("p".to_string(), value.clone())]))
                .expect("params");
            for step in &preset.steps {
                let script = preset
                    .render_step(step, &values, TargetKind::Shell)
                    .expect("render")
                    .text()
                    .to_string();
                let out = std::process::Command::new(shell[0])
                    .args(&shell[1..])
                    .arg(&script)
                    .output()
                    .expect("shell");
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    format!("x {value} y\n"),
                    "{shell:?} step {} value {value}",
                    step.name
                );
                no_markers(markers.path(), &format!("{shell:?} {script}"));
            }
        }
    }
}

#[test]
fn hostile_values_stay_data_over_ssh() {
    use support::sshd::{SshKeys, Sshd};
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let home = tempfile::tempdir().expect("home");
    sshd.trust_from(home.path(), &keys);
    let home_path = home.path().to_path_buf();
    shell_values_stay_data(Some(&sshd.url("casefile-test")), move |cmd| {
        cmd.env("HOME", &home_path).env_remove("SSH_AUTH_SOCK");
    });
}

#[test]
fn a_refused_preset_never_runs() {
    let refused = Path::new(REFUSED).join("shell-sh-c-double.toml");
    let sandbox = sandbox_with(&[refused]);
    let markers = marker_dir();
    let marker = markers.path().join("m");
    let output = sandbox.run(&[
        "capture",
        "--out",
        sandbox.captures().to_str().expect("utf8"),
        "--preset",
        "shell-sh-c-double",
        "--param",
        &format!("p=$(touch {})", marker.display()),
    ]);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("shell-sh-c-double.toml:9:24"),
        "{}",
        stderr(&output)
    );
    no_markers(markers.path(), "refused preset");
}

/// The inert query of `kind` rendered with `value`, as the planner does.
fn render_query(kind: &str, value: &str) -> String {
    let preset = load_file(
        &Path::new(INERT).join(format!("inert-{kind}.toml")),
        PresetOrigin::Builtin,
    )
    .expect("inert preset");
    let values = preset
        .resolve_params(&BTreeMap::from([("p".to_string(), value.to_string())]))
        .expect("params");
    let target = preset.target;
    preset
        .render_step(&preset.steps[0], &values, target)
        .expect("render")
        .text()
        .to_string()
}

/// Runs each hostile value through the inert query: one row, one column, the value verbatim,
/// and no marker. `control` is a naive query (the value pasted as text) that makes the marker
/// when run, proving the marker would show an injection.
async fn sql_values_stay_data(
    url: &str,
    kind: &str,
    values: &[&str],
    markers: &Path,
    control: &str,
) {
    use support::dbcapture::{capture, step, target};
    let t = Duration::from_secs(20);
    let control_marker = markers.join("control");
    let sql = control.replace("{m}", &control_marker.display().to_string());
    let out = capture(target(url), None, vec![step("control", &sql, t)]).await;
    assert!(
        control_marker.exists(),
        "control did not make its marker: {}",
        out.stderr(0)
    );
    std::fs::remove_file(&control_marker).expect("remove control marker");

    for (n, value) in values.iter().enumerate() {
        let marker = markers.join(format!("m{n}"));
        let value = value.replace("{m}", &marker.display().to_string());
        let sql = render_query(kind, &value);
        let out = capture(target(url), None, vec![step("value", &sql, t)]).await;
        let rows: Vec<_> = out
            .json_rows(0)
            .into_iter()
            .filter(|r| r.get("_columns").is_none())
            .collect();
        assert_eq!(rows.len(), 1, "{sql}: {rows:?} {}", out.stderr(0));
        assert_eq!(rows[0]["v"], serde_json::json!(value), "{sql}");
        no_markers(markers, &sql);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_values_are_one_literal_on_mariadb() {
    let server = support::mariadb::MariaDb::shared();
    let markers = marker_dir();
    sql_values_stay_data(
        &server.url("root"),
        "mysql",
        &[
            "x'; SELECT 1 INTO OUTFILE '{m}'; -- ",
            "x\\'; SELECT 1 INTO OUTFILE '{m}'; -- ",
            "x\\\\'; SELECT 1 INTO OUTFILE '{m}'; #",
            "x' UNION SELECT 1 INTO OUTFILE '{m}' -- ",
            "x''; SELECT 1 INTO OUTFILE '{m}'; -- ",
            "\\",
        ],
        markers.path(),
        "SELECT 'x'; SELECT 1 INTO OUTFILE '{m}'; -- '",
    )
    .await;
    assert_eq!(
        render_query("mysql", "a'b"),
        "SELECT 'a''b' AS v -- it's a comment with a quote"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_values_are_one_literal_on_postgres() {
    let server = support::postgres::Postgres::shared();
    let markers = marker_dir();
    sql_values_stay_data(
        &server.url("postgres", "postgres"),
        "postgres",
        &[
            "x'; COPY (SELECT 1) TO '{m}'; --",
            "x\\'; COPY (SELECT 1) TO '{m}'; --",
            "$$; COPY (SELECT 1) TO '{m}'; --",
            "x'||(SELECT 1)||'",
            "\\",
        ],
        markers.path(),
        "SELECT 'x'; COPY (SELECT 1) TO '{m}'; --'",
    )
    .await;
    assert_eq!(
        render_query("postgres", "a'b\\"),
        "SELECT E'a''b\\\\' AS v -- it's a comment with a quote"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_values_are_one_literal_on_sqlite() {
    let dir = tempfile::tempdir().expect("db dir");
    let path = dir.path().join("app.db");
    {
        use sqlx::{ConnectOptions, Executor};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .expect("create db");
        conn.execute("CREATE TABLE t (x INTEGER)")
            .await
            .expect("table");
    }
    let markers = marker_dir();
    sql_values_stay_data(
        &format!("sqlite:{}", path.display()),
        "sqlite",
        &[
            "x'; VACUUM INTO '{m}'; --",
            "x\\'; VACUUM INTO '{m}'; --",
            "x'||(SELECT 1)||'",
        ],
        markers.path(),
        "SELECT 'x'; VACUUM INTO '{m}'; --'",
    )
    .await;
    assert_eq!(TargetKind::Sqlite.to_string(), "sqlite");
}
