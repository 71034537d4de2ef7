//! Tests: the command line's documentation, generated from the same definitions: every option
//! `sandbox SUBCOMMAND --help` shows is in the man page `sandbox man` writes for it, as man(1)
//! renders it, and the shells' completion scripts are what each shell reads.

use std::process::Command;

use sandbox_tests::{ScratchDir, assert_exit, run, sandbox_bin};

/// The long options a help text or a rendered page names (`--root`, `--ignore-unsupported`).
fn long_options(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && word.len() > 2 && !word.ends_with('-'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_option_of_every_help_is_in_its_man_page() {
    let out = ScratchDir::new("man");
    let sandbox = sandbox_bin();
    assert_exit!(
        run(&sandbox, ["man", "--out", out.path().to_str().unwrap()]),
        0
    );
    let subcommands: Vec<String> = {
        let help = run(&sandbox, ["--help"]);
        assert_exit!(help, 0);
        help.stdout
            .lines()
            .skip_while(|line| !line.starts_with("Commands:"))
            .skip(1)
            .take_while(|line| line.starts_with("  "))
            // A wrapped description goes on further in: only a name starts at two spaces.
            .filter(|line| !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_owned)
            .collect()
    };
    assert!(subcommands.len() >= 17, "{subcommands:?}");
    for sub in &subcommands {
        let help = run(&sandbox, [sub.as_str(), "--help"]);
        assert_exit!(help, 0);
        let page = out.path().join(format!("sandbox-{sub}.1"));
        let rendered = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANWIDTH", "200")
            .output()
            .unwrap_or_else(|e| panic!("man -l: {e} (apt-get install man-db; .ci/setup does)"));
        assert!(rendered.status.success(), "man -l {}", page.display());
        let rendered = String::from_utf8_lossy(&rendered.stdout).replace('\u{2010}', "-");
        let missing: Vec<String> = long_options(&help.stdout)
            .difference(&long_options(&rendered))
            .cloned()
            .collect();
        assert!(missing.is_empty(), "sandbox-{sub}(1) lacks {missing:?}");
        // Its synopsis is the command as typed (man justifies lines with extra blanks).
        let words = rendered.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains(&format!("SYNOPSIS sandbox {sub} ")),
            "{rendered}"
        );
    }
}

#[test]
fn completion_scripts_parse_in_their_shells() {
    for (shell, check) in [("bash", ["bash", "-n"]), ("zsh", ["zsh", "-n"])] {
        let script = run(sandbox_bin(), ["completions", shell]);
        assert_exit!(script, 0);
        assert!(script.stdout.contains("play"), "{shell}: {}", script.stdout);
        if Command::new(check[0]).arg("--version").output().is_err() {
            // zsh is not installed on a plain Debian: its script is checked by content only.
            assert!(script.stdout.starts_with("#compdef sandbox"));
            continue;
        }
        let dir = ScratchDir::new("completions");
        let file = dir.path().join(shell);
        std::fs::write(&file, &script.stdout).unwrap();
        let parsed = run(check[0], [check[1], file.to_str().unwrap()]);
        assert_exit!(parsed, 0);
    }
    let fish = run(sandbox_bin(), ["completions", "fish"]);
    assert_exit!(fish, 0);
    assert!(fish.stdout.contains("complete -c sandbox"));
}
