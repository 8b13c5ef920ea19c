//! `casefile doctor` end to end: the real binary against the real servers the suite starts
//! (sshd, MariaDB, PostgreSQL, s3s-fs checking SigV4, Prism serving PagerDuty's API
//! description), with a config holding a good and a broken one of each kind. Every check's
//! status, the exit code, that no secret value is printed, that no host key is learned, and
//! that the S3 test object is gone afterwards.
mod support;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use support::cli::{Sandbox, stderr, stdout};
use support::mariadb::{self, MariaDb};
use support::postgres::{self, Postgres};
use support::prism::Prism;
use support::s3::{self as s3, ACCESS_KEY, Moto, S3sFs, SECRET_KEY};
use support::sshd::{SshKeys, Sshd, free_port};

const USER: &str = "casefile-test";
const PD_TOKEN: &str = "y_NbAkKc66ryYTWUXYEu";
/// A wrong database password: a value the doctor must not print either.
const WRONG_PASSWORD: &str = "Wrong-pw-93c1d7e2";
const BUCKET: &str = "evidence";
/// An AWS secret key the S3 server does not know.
const WRONG_AWS_SECRET: &str = "not-the-secret-key-0000";

/// Every value that must never reach stdout or stderr.
const SECRETS: [&str; 6] = [
    WRONG_AWS_SECRET,
    mariadb::PASSWORD,
    postgres::PASSWORD,
    WRONG_PASSWORD,
    PD_TOKEN,
    SECRET_KEY,
];

/// The servers and a sandbox whose ~/.ssh trusts `sshd` (and not `stranger`, same keys).
struct Env {
    _keys: SshKeys,
    sshd: Sshd,
    stranger: Sshd,
    maria: &'static MariaDb,
    pg: &'static Postgres,
    s3: S3sFs,
    prism: Prism,
    sandbox: Sandbox,
}

impl Env {
    fn start() -> Env {
        let keys = SshKeys::generate();
        let sshd = Sshd::start(&keys);
        let stranger = Sshd::start(&keys);
        let sandbox = Sandbox::new();
        sshd.trust_from(sandbox.path(), &keys);
        let s3 = S3sFs::start();
        s3.create_bucket(BUCKET);
        let env = Env {
            _keys: keys,
            sshd,
            stranger,
            maria: MariaDb::shared(),
            pg: Postgres::shared(),
            s3,
            prism: Prism::start(),
            sandbox,
        };
        let captures = env.sandbox.captures();
        std::fs::create_dir_all(&captures).expect("capture dir");
        std::fs::set_permissions(&captures, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::write(env.sandbox.path().join("empty.db"), b"").expect("sqlite file");
        env
    }

    /// The secrets, the S3 endpoint, the capture dir, and `rest` (targets and destinations).
    fn config(&self, rest: &str) -> std::path::PathBuf {
        self.config_in(&self.sandbox.captures(), rest)
    }

    fn config_in(&self, captures: &Path, rest: &str) -> std::path::PathBuf {
        self.sandbox.write_config(&format!(
            "capture_dir = \"{captures}\"\n\
             [secrets.maria]\nenv = \"CF_DOCTOR_MARIA\"\n\
             [secrets.pg]\nenv = \"CF_DOCTOR_PG\"\n\
             [secrets.wrong]\nenv = \"CF_DOCTOR_WRONG\"\n\
             [secrets.pd]\nenv = \"CF_DOCTOR_PD\"\n\
             [destinations]\ns3_endpoint_url = \"{endpoint}\"\npagerduty_token_secret = \"pd\"\n\
             {rest}",
            captures = captures.display(),
            endpoint = self.s3.endpoint(),
        ))
    }

    fn good_targets(&self) -> String {
        format!(
            "[targets.web]\nurl = \"{ssh}\"\n\
             [targets.orders]\nurl = \"{maria}\"\npassword_secret = \"maria\"\n\
             [targets.billing]\nurl = \"{pg}\"\npassword_secret = \"pg\"\n\
             [targets.local-db]\nurl = \"sqlite:{sqlite}\"\n",
            ssh = self.sshd.url(USER),
            maria = self.maria.url("casefile"),
            pg = self.pg.url("casefile", "postgres"),
            sqlite = self.sandbox.path().join("empty.db").display(),
        )
    }

    fn doctor(&self, args: &[&str]) -> Output {
        self.doctor_with(args, SECRET_KEY)
    }

    fn doctor_with(&self, args: &[&str], aws_secret: &str) -> Output {
        let output = self
            .sandbox
            .command()
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("PAGERDUTY_TOKEN")
            .env_remove("PAGERDUTY_API_URL")
            .env_remove("AWS_PROFILE")
            .env("CF_DOCTOR_MARIA", mariadb::PASSWORD)
            .env("CF_DOCTOR_PG", postgres::PASSWORD)
            .env("CF_DOCTOR_WRONG", WRONG_PASSWORD)
            .env("CF_DOCTOR_PD", PD_TOKEN)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", aws_secret)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .arg("doctor")
            .args(["--timeout", "8s"])
            .args(args)
            .output()
            .expect("run casefile doctor");
        assert_no_secret(&output);
        output
    }
}

fn assert_no_secret(output: &Output) {
    for secret in SECRETS {
        for (what, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
            assert!(
                !String::from_utf8_lossy(bytes).contains(secret),
                "{secret} found in {what}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(output), stderr(output)))
}

/// The check named `name` on `target`.
fn check<'a>(report: &'a Value, name: &str, target: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["name"] == name)
        .find(|c| c["target"] == target)
        .or_else(|| {
            report["checks"].as_array()?.iter().find(|c| {
                c["name"] == name && c["target"].as_str().is_some_and(|t| t.contains(target))
            })
        })
        .unwrap_or_else(|| panic!("no {name} check for {target}: {report:#}"))
}

fn status<'a>(report: &'a Value, name: &str, target: &str) -> &'a str {
    check(report, name, target)["status"]
        .as_str()
        .expect("status")
}

fn detail(report: &Value, name: &str, target: &str) -> String {
    let c = check(report, name, target);
    format!("{} / fix: {}", c["detail"], c["fix"])
}

fn known_hosts(home: &Path) -> String {
    std::fs::read_to_string(home.join(".ssh/known_hosts")).expect("known_hosts")
}

#[test]
fn a_good_setup_passes_every_check_and_leaves_nothing_behind() {
    let env = Env::start();
    let prism_url = env.prism.url();
    env.config(&format!(
        "s3 = \"s3://{BUCKET}/team/casefile/\"\npagerduty_api_url = \"{prism}\"\npagerduty_from = \"responder@example.com\"\n{targets}",
        prism = env.prism.url(),
        targets = env.good_targets(),
    ));
    let output = env.doctor(&["--json"]);
    let report = json(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report:#}\n{}",
        stderr(&output)
    );
    assert_eq!(report["ok"], true);
    for (name, target) in [
        ("config", "casefile.toml"),
        ("secrets", "maria"),
        ("secrets", "pd"),
        ("ssh", "web"),
        ("db", "orders"),
        ("db", "billing"),
        ("db", "local-db"),
        ("s3", BUCKET),
        ("pagerduty", prism_url.as_str()),
        ("capture_dir", "captures"),
    ] {
        assert_eq!(
            status(&report, name, target),
            "ok",
            "{name} {target}: {report:#}"
        );
    }
    // Read-only as each engine reports it.
    assert!(
        detail(&report, "db", "orders").contains("read_only = 1"),
        "{report:#}"
    );
    assert!(
        detail(&report, "db", "billing").contains("transaction_read_only = on"),
        "{report:#}"
    );
    assert!(
        detail(&report, "db", "local-db").contains("query_only = 1"),
        "{report:#}"
    );
    // The test object went under the prefix and is gone again.
    assert!(
        detail(&report, "s3", BUCKET).contains(&format!("s3://{BUCKET}/team/casefile/doctor/")),
        "{report:#}"
    );
    let keys = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let client = s3::client(&env.s3.endpoint(), ACCESS_KEY, SECRET_KEY).await;
            s3::list_keys(&client, BUCKET).await
        });
    assert_eq!(
        keys,
        Vec::<String>::new(),
        "the test object was left behind"
    );
    // Prism validated the request against PagerDuty's API description.
    let log = env.prism.log();
    assert!(log.to_lowercase().contains("get /incidents"), "{log}");
    assert!(!log.contains("Violation"), "{log}");
    // The capture dir probe left no file.
    assert_eq!(
        std::fs::read_dir(env.sandbox.captures())
            .expect("dir")
            .count(),
        0
    );

    // The text form: one line per check, then the count.
    let output = env.doctor(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        report["checks"].as_array().expect("checks").len() + 1,
        "{text}"
    );
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("ok ")),
        "{text}"
    );
    assert!(lines[lines.len() - 1].contains("0 failed"), "{text}");
}

#[test]
fn a_broken_one_of_each_kind_fails_with_a_fix_and_exit_1() {
    let env = Env::start();
    let home = env.sandbox.path();
    // ~/.ssh/config would let a capture learn new keys; the doctor never does.
    std::fs::write(
        home.join(".ssh/config"),
        "Host *\n  StrictHostKeyChecking accept-new\n",
    )
    .expect("ssh config");
    let trusted = known_hosts(home);
    let open = env.sandbox.path().join("open-captures");
    std::fs::create_dir_all(&open).expect("dir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    env.config_in(
        &open,
        &format!(
            "s3 = \"s3://{BUCKET}/casefile/\"\npagerduty_api_url = \"{prism}/api/v2\"\n\
         [secrets.unset]\nenv = \"CF_DOCTOR_NOT_SET\"\n\
         {good}\
         [targets.stranger]\nurl = \"{stranger}\"\n\
         [targets.nobody-home]\nurl = \"ssh://{USER}@127.0.0.1:{closed}\"\n\
         [targets.orders-wrong]\nurl = \"{maria}\"\npassword_secret = \"wrong\"\n\
         [targets.billing-wrong]\nurl = \"{pg}\"\npassword_secret = \"wrong\"\n\
         [targets.missing-db]\nurl = \"sqlite:{missing}\"\n\
         [targets.orders-via-web]\nurl = \"{maria}\"\npassword_secret = \"maria\"\nvia = \"web\"\n\
         [targets.orders-via-stranger]\nurl = \"{maria}\"\npassword_secret = \"maria\"\nvia = \"stranger\"\n",
            prism = env.prism.url(),
            good = env.good_targets(),
            stranger = env.stranger.url(USER),
            closed = free_port(),
            maria = env.maria.url("casefile"),
            pg = env.pg.url("casefile", "postgres"),
            missing = home.join("missing.db").display(),
        ),
    );

    // S3 gets a secret key it does not know (s3s checks the SigV4 signature).
    let output = env.doctor_with(&["--json"], WRONG_AWS_SECRET);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["ok"], false);
    let expect = |name: &str, target: &str, want: &str, says: &str| {
        assert_eq!(
            status(&report, name, target),
            want,
            "{name} {target}: {report:#}"
        );
        let text = detail(&report, name, target);
        assert!(
            text.contains(says),
            "{name} {target} should say {says:?}: {text}"
        );
    };
    expect("config", "casefile.toml", "ok", "targets");
    expect("secrets", "maria", "ok", "CF_DOCTOR_MARIA");
    expect("secrets", "unset", "fail", "CF_DOCTOR_NOT_SET");
    expect("ssh", "web", "ok", "logged in");
    expect("ssh", "stranger", "fail", "ssh-keyscan");
    expect("ssh", "nobody-home", "fail", "cannot connect");
    expect("db", "orders", "ok", "read-only");
    expect("db", "orders-wrong", "fail", "access denied");
    expect("db", "billing", "ok", "read-only");
    expect(
        "db",
        "billing-wrong",
        "fail",
        "password authentication failed",
    );
    expect("db", "local-db", "ok", "read-only");
    expect("db", "missing-db", "fail", "missing.db");
    expect("db", "orders-via-web", "ok", "read-only");
    expect("db", "orders-via-stranger", "fail", "not in known_hosts");
    expect("s3", BUCKET, "fail", "SignatureDoesNotMatch");
    expect("pagerduty", "/api/v2", "fail", "404");
    expect("capture_dir", "open-captures", "fail", "chmod 700");
    // Every failure says what to do.
    for c in report["checks"].as_array().expect("checks") {
        if c["status"] == "fail" {
            assert!(c["fix"].as_str().is_some_and(|f| !f.is_empty()), "{c}");
        }
    }
    // Neither the SSH check nor the database's `via` learned the stranger's key.
    assert_eq!(known_hosts(home), trusted, "the doctor learned a host key");

    // Text: the same verdicts, one line each, and the same exit status.
    let output = env.doctor_with(&[], WRONG_AWS_SECRET);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}:\n{text}"))
    };
    let start = |status: &str, target: &str| format!("{status:<4} {:<11} {target}:", "ssh");
    assert!(line(&start("fail", "stranger")).contains("fix: "), "{text}");
    assert!(line(&start("ok", "web")).contains("logged in"), "{text}");
    assert!(text.contains("failed"), "{text}");
}

/// A bucket that does not exist, on moto (s3s-fs makes a missing bucket's folder on write, as
/// no real store does); `--only` runs the config and S3 checks alone.
#[test]
fn a_missing_bucket_fails_and_only_limits_the_checks() {
    let moto = Moto::start();
    let sandbox = Sandbox::new();
    sandbox.write_config(&format!(
        "[destinations]\ns3 = \"s3://no-such-bucket/casefile/\"\ns3_endpoint_url = \"{}\"\n",
        moto.endpoint()
    ));
    let output = sandbox
        .command()
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["doctor", "--json", "--only", "s3"])
        .output()
        .expect("run casefile doctor");
    assert_no_secret(&output);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["config", "s3"], "{report:#}");
    assert_eq!(status(&report, "s3", "no-such-bucket"), "fail");
    assert!(
        detail(&report, "s3", "no-such-bucket").contains("NoSuchBucket"),
        "{report:#}"
    );
    let wrong = sandbox.run(&["doctor", "--only", "dns"]);
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("capture_dir"), "{}", stderr(&wrong));
}

#[test]
fn a_config_that_does_not_parse_is_a_failed_check_naming_file_line_and_column() {
    let sandbox = Sandbox::new();
    let path = sandbox.write_config("[targets.web]\nurl = \"ssh://h\"\ntagz = [\"x\"]\n");
    let output = sandbox.run(&["doctor", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    let checks = report["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 1, "{report:#}");
    assert_eq!(checks[0]["status"], "fail");
    let detail = checks[0]["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with(&format!("{}:3:1: unknown field `tagz`", path.display())),
        "{detail}"
    );
    assert!(checks[0]["fix"].as_str().is_some_and(|f| !f.is_empty()));
}
