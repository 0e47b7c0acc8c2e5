//! `scalewize logs <client> <server> [--follow]`: recent log lines of one service, and new
//! ones as they arrive.

use std::collections::BTreeSet;
use std::io::Write;

use super::session::runtime;
use super::{Ctx, Outcome};
use crate::cli::LogsArgs;
use crate::error::{Error, Result};
use crate::model::{LIBRECHAT, ServiceKey};
use crate::platform::Platforms;
use crate::workspace::{CredentialMode, Owner};

pub fn run(ctx: &mut Ctx, args: LogsArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.select(std::slice::from_ref(&args.client), false, false)?;
    let client = ws
        .load_client(&args.client)
        .map_err(|ds| Error::from_diagnostics(format!("{} does not load", args.client), ds))?;
    let (key, platform) = if args.server == LIBRECHAT {
        (ServiceKey::librechat(&client.id), client.librechat.platform)
    } else {
        let server = client.server(&args.server).ok_or_else(|| {
            let known: Vec<&str> = client
                .servers
                .iter()
                .filter(|s| s.deployed().is_some())
                .map(|s| s.slug.as_str())
                .collect();
            Error::new(format!("{} deploys no server `{}`", client.id, args.server))
                .hint(format!("its deployed servers: {}", known.join(", ")))
        })?;
        let d = server.deployed().ok_or_else(|| {
            Error::new(format!(
                "`{}` is external (it has a url): scalewize does not run it",
                args.server
            ))
        })?;
        let user = match (server.credential_mode, &args.user) {
            (CredentialMode::PerUserInstance, None) => {
                return Err(
                    Error::new(format!("`{}` runs one instance per user", args.server))
                        .hint(format!("pass --user, one of: {}", server.users.join(", "))),
                );
            }
            (CredentialMode::PerUserInstance, Some(u)) => Some(u.as_str()),
            _ => None,
        };
        let owner = match &d.owner {
            Owner::Shared => Owner::Shared,
            o => o.clone(),
        };
        (ServiceKey::new(&owner, &server.slug, user), d.platform)
    };
    let platform = args.platform.get().unwrap_or(platform);
    let source = super::session::secrets(ctx, &ws)?;
    // Load this service's secrets so that the redactor below knows (and masks) their values.
    if let Ok(rendered) = crate::render::Renderer::new(&ws).render(&client)
        && let Ok(specs) = crate::plan::desired::desired(&ws, &[(&client, &rendered)], None)
    {
        for (_, r) in specs.get(&key).into_iter().flat_map(|s| s.secrets()) {
            let _ = source.value(r);
        }
    }
    let conn = super::session::connection(ctx, &source);
    let platforms = Platforms::connect(&ws, &BTreeSet::from([platform]), &conn)?;
    let rt = runtime()?;
    let p = platforms.get(platform);
    // Following compares windows of the same size, so the first read is already one.
    let window = if args.follow {
        FOLLOW_WINDOW.max(args.lines)
    } else {
        args.lines
    };
    let mut seen = rt.block_on(p.logs(&key, window))?;
    // Logs are the servers' own output: mask any secret value that shows up in them.
    let print = |lines: &[String]| -> bool {
        let mut out = std::io::stdout().lock();
        lines
            .iter()
            .all(|l| writeln!(out, "{}", source.redact(l)).is_ok())
            && out.flush().is_ok()
    };
    if !print(&seen[seen.len().saturating_sub(args.lines)..]) || !args.follow {
        return Ok(Outcome::Done);
    }
    // Follow by polling the platform's recent lines: the same call works on every platform.
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let batch = match rt.block_on(p.logs(&key, window)) {
            Ok(b) => b,
            Err(e) => {
                ctx.ui.debug(1, format!("logs: {}", e.message));
                continue;
            }
        };
        // A reader that went away (`| head`) ends the follow.
        if !print(new_lines(&seen, &batch)) {
            return Ok(Outcome::Done);
        }
        seen = batch;
    }
}

/// How many recent lines each poll of `--follow` asks for: more than a second's worth.
const FOLLOW_WINDOW: usize = 1000;

/// The lines of `batch` (the latest lines) that follow what `seen` (an earlier latest-lines
/// batch) ended with: the longest suffix of `seen` that starts `batch`, by line content.
fn new_lines<'a>(seen: &[String], batch: &'a [String]) -> &'a [String] {
    for start in 0..seen.len() {
        let tail = &seen[start..];
        if batch.len() >= tail.len() && batch[..tail.len()] == *tail {
            return &batch[tail.len()..];
        }
    }
    // Nothing in common: more than a window arrived (or the log was rotated); print it all.
    batch
}

#[cfg(test)]
mod tests {
    use super::new_lines;

    fn v(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn follow_prints_only_what_came_after_the_last_batch() {
        let seen = v(&["a", "b", "c"]);
        assert_eq!(new_lines(&seen, &v(&["a", "b", "c"])), v(&[]).as_slice());
        assert_eq!(
            new_lines(&seen, &v(&["a", "b", "c", "d"])),
            v(&["d"]).as_slice()
        );
        // The window moved on: the oldest lines dropped out of the batch.
        assert_eq!(
            new_lines(&seen, &v(&["c", "d", "e"])),
            v(&["d", "e"]).as_slice()
        );
        assert_eq!(new_lines(&v(&[]), &v(&["x"])), v(&["x"]).as_slice());
        // Nothing in common: all of it.
        assert_eq!(new_lines(&seen, &v(&["x", "y"])), v(&["x", "y"]).as_slice());
        // Repeated lines: the longest overlap wins, so a repeated line is not lost.
        let seen = v(&["ok", "ok"]);
        assert_eq!(
            new_lines(&seen, &v(&["ok", "ok", "ok"])),
            v(&["ok"]).as_slice()
        );
    }
}
