//! Reading a secret value: from stdin when it is not a terminal, else from a hidden prompt;
//! never from argv, never echoed.

use std::io::{IsTerminal, Read, Write};

use crate::error::{Error, Result};
use crate::secrets::Secret;

/// The value to store: stdin, or a hidden prompt (asked twice) on a terminal.
pub(super) fn read_value(name: &str) -> Result<Secret> {
    let stdin = std::io::stdin();
    let value = if stdin.is_terminal() {
        let first = prompt_hidden(&format!("Value for {name} (input hidden): "))?;
        let again = prompt_hidden("Again, to confirm: ")?;
        if first != again {
            return Err(Error::new("the two entries differ; nothing was written"));
        }
        first
    } else {
        let mut buf = Vec::new();
        stdin
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| Error::new(format!("cannot read the value from stdin: {e}")))?;
        let text = match String::from_utf8(buf) {
            Ok(t) => t,
            Err(e) => {
                let mut b = e.into_bytes();
                b.iter_mut().for_each(|x| *x = 0);
                return Err(Error::new(format!(
                    "the value for {name} on stdin is not UTF-8 text; nothing was written"
                )));
            }
        };
        let mut v = Secret::new(text);
        let trimmed = v
            .expose()
            .strip_suffix('\n')
            .map(|s| s.strip_suffix('\r').unwrap_or(s));
        if let Some(t) = trimmed {
            v = Secret::new(t);
        }
        v
    };
    if value.is_empty() {
        return Err(Error::new(format!(
            "no value for {name} on stdin; nothing was written"
        ))
        .hint(format!(
            "pipe it in: scalewize secret set <client> {name} < value.txt (empty values are refused; `secret rm` removes one)"
        )));
    }
    Ok(value)
}

/// Read one line from the terminal with echo off (stdin is a TTY).
pub(super) fn prompt_hidden(prompt: &str) -> Result<Secret> {
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a valid terminal fd.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
        return Err(Error::new("cannot switch off echo on this terminal")
            .hint("pipe the value in instead: scalewize secret set <client> NAME < value.txt"));
    }
    let original = term;
    term.c_lflag &= !libc::ECHO;
    term.c_lflag |= libc::ECHONL;
    // SAFETY: same fd, a termios derived from the one the terminal gave us.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &term) };
    struct Restore(libc::termios);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the settings read above.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.0) };
        }
    }
    let _restore = Restore(original);
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::new(format!("cannot read from the terminal: {e}")))?;
    let v = Secret::new(line.trim_end_matches(['\n', '\r']));
    // Overwrite the buffer before it is freed.
    // SAFETY: zero bytes keep the String valid UTF-8.
    unsafe { line.as_bytes_mut().iter_mut().for_each(|b| *b = 0) };
    Ok(v)
}
