//! The fleet overview in the real TUI (tmux), against real sshds on 127.0.0.1 … 127.0.0.50
//! (4 sshds sharing a host key, 16 addresses each), where one host (127.0.0.17, `web17`)
//! answers differently: its command's output depends on `$SSH_CONNECTION`. The capture is
//! planned and run from the TUI as a person would; the overview (the default for 50 streams)
//! folds the step live, highlights the odd one out, and `d` on it shows the diff against the
//! majority.
mod support;

use std::time::Duration;
use support::cli::Sandbox;
use support::fleet::SshFleet;
use support::tmux::Tmux;

const HOSTS: usize = 50;
const ODD: usize = 17;
const WAIT: Duration = Duration::from_secs(60);

/// The ad-hoc step: the same two lines everywhere, except on 127.0.0.17.
const STEP: &str = "set -- $SSH_CONNECTION; if [ \"$3\" = 127.0.0.17 ]; then echo 'kernel 6.1.0-18'; else echo 'kernel 6.1.0-27'; fi; echo 'mtu 1500'";

struct Fleet {
    _hosts: SshFleet,
    sandbox: Sandbox,
}

/// 50 hosts `web01`…`web50` (tag `fleet`) in the sandbox's config, trusted and logged into
/// with the test key as the `casefile-test` user (shell /bin/sh).
fn fleet() -> Fleet {
    let hosts = SshFleet::start(HOSTS);
    let sandbox = Sandbox::new();
    hosts.trust_from(sandbox.path());
    sandbox.write_config(&hosts.targets_toml("casefile-test", "fleet"));
    Fleet {
        _hosts: hosts,
        sandbox,
    }
}

/// The line of `screen` holding every needle.
fn line_with<'a>(screen: &'a str, needles: &[&str]) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| needles.iter().all(|n| l.contains(n)))
}

#[test]
fn overview_highlights_the_outlier_and_opening_it_diffs_against_the_majority() {
    let fleet = fleet();
    let tui = Tmux::start_with_env(&fleet.sandbox, &[("SSH_AUTH_SOCK", "")], &[], 150, 46);
    tui.wait_for(&["no incident (ad hoc)"], WAIT);
    tui.keys(&["Enter"]);
    tui.wait_for(&["Targets", "web01"], WAIT);
    // Unselect local, select every host tagged `fleet`, type the step, start.
    tui.keys(&["Space", "j", "t"]);
    tui.wait_for(&["selected 50 targets tagged fleet"], WAIT);
    tui.keys(&["c"]);
    tui.type_text(STEP);
    tui.wait_for(&["Preview · 50 streams on 50 targets"], WAIT);
    tui.keys(&["Enter"]);

    // The overview is the default: 50 streams do not fit the grid at a readable size. The
    // step folds into the 49 alike and web17 alone, marked as the odd one out.
    let screen = tui.wait_for(
        &[
            "finished",
            "50/50 targets",
            "2 groups · 1 odd",
            "web[01-16,18-50]",
        ],
        WAIT,
    );
    let majority = line_with(&screen, &["49", "web[01-16,18-50]"]);
    assert!(
        majority.is_some(),
        "the majority group, compressed:\n{screen}"
    );
    let odd = line_with(&screen, &["◆", "web17"]);
    assert!(odd.is_some(), "web17 alone, marked odd:\n{screen}");
    assert!(screen.contains("✓ 50 ok"), "{screen}");

    // The outlier's cell is highlighted: its background differs from a normal cell's.
    let colours = tui.screen_with_colours();
    let row = |name: &str| {
        colours
            .lines()
            .find(|l| l.contains(name) && l.contains('✓'))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no row for {name}:\n{colours}"))
    };
    let (odd_row, normal_row) = (row("web17"), row("web18"));
    let escapes = |l: &str| {
        l.split('\u{1b}')
            .filter(|s| s.starts_with('['))
            .map(|s| s.split('m').next().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_ne!(
        escapes(&odd_row),
        escapes(&normal_row),
        "web17's cell is drawn differently from web18's:\n{odd_row}\n{normal_row}"
    );

    // Down to web17, open its pane (zoomed), come back, then diff it against the majority.
    for _ in 1..ODD {
        tui.keys(&["j"]);
    }
    let screen = tui.wait_for(&["web17 · adhoc/run", "odd one out"], WAIT);
    assert!(screen.contains("group 2/2 of 1"), "{screen}");
    tui.keys(&["Enter"]);
    let screen = tui.wait_for(&["web17 · adhoc/run", "kernel 6.1.0-18", "✓ exit 0"], WAIT);
    assert!(
        !screen.contains("50/50 targets"),
        "the pane, not the overview:\n{screen}"
    );
    tui.keys(&["Escape"]);
    tui.wait_for(&["50/50 targets", "odd one out"], WAIT);
    tui.keys(&["d"]);
    let screen = tui.wait_for(&["1 removed · 1 added", "(49 like it)"], WAIT);
    assert!(
        line_with(&screen, &["-kernel 6.1.0-27", "+kernel 6.1.0-18"]).is_some(),
        "side by side, the majority's line against web17's:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.matches(" mtu 1500").count() == 2),
        "the unchanged line on both sides:\n{screen}"
    );
    assert!(screen.contains("+ web17 · adhoc/run · exit 0"), "{screen}");
    tui.keys(&["u"]);
    let screen = tui.wait_for(&["unified"], WAIT);
    let removed = screen
        .lines()
        .position(|l| l.starts_with("-kernel 6.1.0-27"));
    let added = screen
        .lines()
        .position(|l| l.starts_with("+kernel 6.1.0-18"));
    assert!(
        removed.is_some() && added.is_some() && removed < added,
        "unified: removed then added:\n{screen}"
    );
    tui.keys(&["Escape"]);
    tui.wait_for(&["50/50 targets"], WAIT);
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);
}

/// Replay's "compare with…": the fleet captured twice (headless), web23 changed in between;
/// replaying the second and comparing with the first marks exactly web23's step as changed,
/// and `d` shows what changed.
#[test]
fn replay_compares_with_an_earlier_capture_and_diffs_the_changed_host() {
    use std::os::unix::fs::PermissionsExt;
    let fleet = fleet();
    let state = tempfile::tempdir().expect("state dir");
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let step = format!(
        "set -- $SSH_CONNECTION; cat {}/$3 2>/dev/null || echo healthy",
        state.path().display()
    );
    let capture = || {
        let output = fleet
            .sandbox
            .command()
            .env_remove("SSH_AUTH_SOCK")
            .args(["capture", "--json", "-t", "tag:fleet", "--run", &step])
            .output()
            .expect("casefile capture");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        summary["snapshot"].as_str().expect("snapshot").to_string()
    };
    let old = capture();
    let changed = state.path().join("127.0.0.23");
    std::fs::write(&changed, "disk full\n").expect("state file");
    std::fs::set_permissions(&changed, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    // Snapshot ids have a one-second resolution.
    std::thread::sleep(Duration::from_millis(1100));
    let new = capture();
    assert_ne!(old, new);
    let old_id = std::path::Path::new(&old)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("id")
        .to_string();

    let tui = Tmux::start(&fleet.sandbox, &["replay", &new], 150, 46);
    tui.wait_for(&["Replay", "50/50 targets", "web01"], WAIT);
    tui.keys(&["c"]);
    tui.wait_for(&["compare with…", &old_id], WAIT);
    tui.keys(&["Enter"]);
    let screen = tui.wait_for(
        &[&format!(
            "compared with {old_id}: 1 changed · 49 unchanged · 0 new · 0 missing"
        )],
        WAIT,
    );
    let chg: Vec<&str> = screen.lines().filter(|l| l.contains("chg")).collect();
    assert_eq!(chg.len(), 1, "one changed cell:\n{screen}");
    assert!(chg[0].contains("web23"), "{screen}");
    for _ in 1..23 {
        tui.keys(&["j"]);
    }
    tui.wait_for(&["web23 · adhoc/run", "changed: stdout"], WAIT);
    tui.keys(&["d"]);
    let screen = tui.wait_for(&["1 removed · 1 added", "-healthy", "+disk full"], WAIT);
    assert!(screen.contains(&format!("(in {old_id})")), "{screen}");
    tui.keys(&["Escape"]);
    tui.keys(&["c"]);
    tui.wait_for(&["comparison cleared"], WAIT);
    tui.keys(&["q"]);
    tui.wait_for(&["EXITED:0"], WAIT);
}
