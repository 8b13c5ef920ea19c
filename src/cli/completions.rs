//! `casefile completions SHELL` and `casefile man`: shell completion scripts and a man page,
//! generated from the clap definition so they never drift from the real flags.
//!
//! Both print to stdout through `outln!` like every other line (the text is generated here,
//! not captured, so the sanitiser passes it through unchanged: newlines and tabs are kept).
//! Neither needs a config file: they run before the configuration is loaded.
use super::Cli;
use clap::CommandFactory;
use std::process::ExitCode;

/// Shells `casefile completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`, as text.
pub fn completion_script(shell: Shell) -> String {
    let mut command = Cli::command();
    let mut out = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut command, "casefile", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man page (roff, section 1): the top-level command, with every subcommand's usage and
/// flags appended as its own section so `man casefile` documents the whole CLI in one page.
pub fn man_page() -> String {
    let command = Cli::command();
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = clap_mangen::Man::new(command.clone()).render(&mut out);
    for sub in command.get_subcommands() {
        append_subcommand(&mut out, &format!("casefile {}", sub.get_name()), sub);
    }
    ascii_roff(&String::from_utf8_lossy(&out))
}

/// Non-ASCII characters of the help text (`…`, `–`) as roff's `\[uXXXX]` escapes, so the page
/// renders the same with or without a UTF-8 preprocessor (groff without `-k`, mandoc).
fn ascii_roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    out
}

/// One `.SH` section per subcommand (recursively for `presets list` and the like).
fn append_subcommand(out: &mut Vec<u8>, path: &str, sub: &clap::Command) {
    let sub = sub.clone().bin_name(path.to_string());
    let man = clap_mangen::Man::new(sub.clone());
    let mut roff = Vec::new();
    out.extend_from_slice(format!(".SH \"{}\"\n", path.to_uppercase()).as_bytes());
    let _ = man.render_synopsis_section(&mut roff);
    let _ = man.render_description_section(&mut roff);
    let _ = man.render_options_section(&mut roff);
    // The sections come with their own `.SH NAME` headings: demote them to sub-headings.
    let text = String::from_utf8_lossy(&roff).replace(".SH ", ".SS ");
    out.extend_from_slice(text.as_bytes());
    for nested in sub.get_subcommands() {
        append_subcommand(out, &format!("{path} {}", nested.get_name()), nested);
    }
}

/// Prints `text` as it is (one trailing newline).
fn print(text: &str) -> ExitCode {
    outln!("{}", text.trim_end_matches('\n'));
    ExitCode::SUCCESS
}

/// Runs `casefile completions SHELL`.
pub fn run_completions(shell: Shell) -> ExitCode {
    print(&completion_script(shell))
}

/// Runs `casefile man`.
pub fn run_man() -> ExitCode {
    print(&man_page())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_script_completes_subcommands_and_their_flags() {
        let script = completion_script(Shell::Bash);
        assert!(script.contains("capture"), "{script}");
        assert!(script.contains("--preset"), "{script}");
        assert!(script.contains("completions"), "{script}");
    }

    #[test]
    fn zsh_and_fish_scripts_name_the_capture_flags() {
        for shell in [Shell::Zsh, Shell::Fish] {
            let script = completion_script(shell);
            assert!(script.contains("preset"), "{shell:?}");
            assert!(script.contains("capture"), "{shell:?}");
        }
    }

    #[test]
    fn man_page_has_a_title_and_every_subcommand() {
        let page = man_page();
        assert!(page.contains(".TH casefile 1"), "{page}");
        for sub in [
            "capture",
            "show",
            "export",
            "replay",
            "presets list",
            "completions",
            "man",
        ] {
            assert!(
                page.contains(&format!(".SH \"CASEFILE {}\"", sub.to_uppercase())),
                "{sub} missing"
            );
        }
        assert!(page.contains("\\-\\-preset"), "capture's flags are listed");
        assert!(page.is_ascii());
        assert_eq!(ascii_roff("a…b"), "a\\[u2026]b");
    }
}
