//! `scalewize completions <shell>` and `scalewize man`: generated from the one clap definition,
//! so they never disagree with `--help`.

use std::io::Write;

use clap::CommandFactory;

use super::Outcome;
use crate::cli::Cli;
use crate::error::{Error, Result};

pub fn completions(shell: clap_complete::Shell) -> Result<Outcome> {
    let mut cmd = Cli::command();
    // Generated in memory: clap_complete panics on a write error, and a closed pipe is not a bug.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "scalewize", &mut script);
    print(&script)
}

/// Write to stdout; a reader that went away (`| head`) is not an error worth a message.
fn print(bytes: &[u8]) -> Result<Outcome> {
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Ok(Outcome::Done),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Outcome::Done),
        Err(e) => Err(Error::new(format!("cannot write to stdout: {e}"))),
    }
}

/// The man page as roff: the top-level page, then one section per subcommand.
pub fn man_page() -> Vec<u8> {
    // Without the commit: the shipped page changes only when the interface does.
    let cmd = Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .expect("rendering to memory");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let _ = writeln!(buf, ".SH \"SCALEWIZE {}\"", sub.get_name().to_uppercase());
        let man = clap_mangen::Man::new(sub.clone());
        let _ = man.render_synopsis_section(&mut buf);
        let _ = man.render_description_section(&mut buf);
        let _ = man.render_options_section(&mut buf);
    }
    buf
}

pub fn man() -> Result<Outcome> {
    print(&man_page())
}
