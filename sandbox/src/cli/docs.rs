//! `sandbox completions SHELL` and `sandbox man [--out DIR]`: shell completions (clap_complete)
//! and man pages (clap_mangen), generated from the same clap definitions as `--help`, so the
//! three never disagree. Neither needs root or a state root.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;
use sandbox::{Error, Result};

/// `completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Load them in the running shell, or install them where the shell looks:
  bash: source <(sandbox completions bash)    or > /etc/bash_completion.d/sandbox
  zsh:  sandbox completions zsh > \"${fpath[1]}/_sandbox\"
  fish: sandbox completions fish > ~/.config/fish/completions/sandbox.fish")]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Install them with: sandbox man --out /usr/local/share/man/man1 (then `man sandbox`, \
`man sandbox-play`).")]
pub struct ManArgs {
    /// Write sandbox.1 and one page per subcommand (sandbox-create.1, ...) into this directory
    /// instead of printing sandbox.1 on stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Prints the completion script for `args.shell`.
pub fn completions(args: &CompletionsArgs) -> Result<u8> {
    let mut command = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "sandbox", &mut out);
    write_stdout(&out, "the completion script")
}

/// Prints `sandbox(1)`, or writes every page into `args.out`.
pub fn man(args: &ManArgs) -> Result<u8> {
    let mut command = super::Cli::command();
    // Global options (--root, ...) are propagated to the subcommands by a build.
    command.build();
    let Some(dir) = &args.out else {
        return write_stdout(&render(command)?, "the man page");
    };
    let write = |name: &str, page: Vec<u8>| {
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).map_err(|source| Error::Io {
            what: format!("writing man page {}", path.display()),
            source,
        })
    };
    for sub in command.get_subcommands() {
        let name = format!("sandbox-{}", sub.get_name());
        // Named as man(1) looks pages up, sandbox-play(1); used as `sandbox play`.
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("sandbox {}", sub.get_name()));
        write(&name, render(page)?)?;
    }
    write("sandbox", render(command)?)?;
    Ok(0)
}

/// A page in roff.
fn render(command: clap::Command) -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|source| Error::Io {
            what: "rendering a man page".to_owned(),
            source,
        })?;
    Ok(page)
}

fn write_stdout(bytes: &[u8], what: &str) -> Result<u8> {
    std::io::stdout()
        .lock()
        .write_all(bytes)
        .map_err(|source| Error::Io {
            what: format!("writing {what} to stdout"),
            source,
        })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_lists_every_subcommand_with_its_help() {
        let roff = String::from_utf8(render(crate::cli::Cli::command()).unwrap()).unwrap();
        let page = roff.replace("\\-", "-").replace("\\*(Aq", "'");
        assert!(page.contains(".TH sandbox 1"), "{page}");
        for sub in crate::cli::Cli::command().get_subcommands() {
            let about = sub.get_about().unwrap().to_string();
            let first_words: String = about
                .split_whitespace()
                .take(4)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(page.contains(sub.get_name()), "{} missing", sub.get_name());
            assert!(page.contains(&first_words), "{first_words:?} missing");
        }
    }

    #[test]
    fn completions_know_every_subcommand() {
        let mut command = crate::cli::Cli::command();
        let mut out = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut command,
            "sandbox",
            &mut out,
        );
        let script = String::from_utf8(out).unwrap();
        for sub in crate::cli::Cli::command().get_subcommands() {
            assert!(
                script.contains(sub.get_name()),
                "{} missing",
                sub.get_name()
            );
        }
        assert!(script.contains("--ignore-unsupported"));
    }
}
