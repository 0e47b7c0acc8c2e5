//! `scalewize lock status|release`, and taking the platform locks for deploy and destroy
//! (after the workspace file lock; released at the end, also on error). The locks themselves
//! live in `platform::lock` and each platform's `lock` module.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::output::{self, LockRecord, LockStateName, LockStatusOutput};
use super::session::{confirm, require_yes_off_terminal, runtime};
use super::{Ctx, Outcome};
use crate::cli::{LockArgs, LockCommand};
use crate::error::Result;
use crate::net::deadline;
use crate::platform::lock::{LockNote, LockState, age_text, now_unix};
use crate::platform::{Connection, Platform, Platforms};
use crate::workspace::PlatformName;

/// The platform locks a run holds; give them back with `release`.
#[derive(Default)]
pub struct Held(Vec<Arc<dyn Platform>>);

impl Held {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Release every lock held, warning (not failing) when one cannot be: the run's own result
    /// matters more, and `lock release` is the fix. Each release gets `RELEASE_WAIT`, so a
    /// spent hourly budget (a `Retry-After` near an hour) ends the run instead of stalling it.
    pub fn release(self, ctx: &Ctx, rt: &tokio::runtime::Runtime) {
        for p in self.0 {
            let deadline = Instant::now() + crate::net::backoff::scaled(RELEASE_WAIT);
            if let Err(e) = rt.block_on(deadline::within(deadline, p.release_lock())) {
                ctx.ui.warn(format!(
                    "could not release the {} lock: {}; free it with `scalewize lock release --platform {}`",
                    p.name(),
                    e.message,
                    p.name()
                ));
            }
        }
    }
}

/// How long releasing one platform lock may wait on the platform (its rate limit included).
const RELEASE_WAIT: Duration = Duration::from_secs(60);

/// This run, as other runs will see it while it holds a platform lock.
fn note(run: &str) -> LockNote {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    LockNote {
        holder: format!("{user}@{}", crate::lock::hostname()),
        pid: std::process::id(),
        run: run.to_string(),
        since: crate::ui::timestamp(),
        since_unix: now_unix(),
        message: std::env::var("SCALEWIZE_LOCK_MESSAGE").unwrap_or_default(),
    }
}

/// Take the lock of every platform in `platforms` that keeps one, waiting `--lock-timeout` for
/// each; on failure the ones already taken are given back.
pub fn take(
    ctx: &Ctx,
    rt: &tokio::runtime::Runtime,
    platforms: &Platforms,
    run: &str,
) -> Result<Held> {
    let note = note(run);
    let mut held = Held::default();
    let ui = &ctx.ui;
    for (_, p) in platforms.iter() {
        let on_wait = |m: &str| ui.note(m);
        // Waiting out a rate limit is waiting for the lock: both within --lock-timeout.
        let deadline = Instant::now() + ctx.lock_timeout + RELEASE_WAIT;
        let taking = crate::platform::lock::acquire(p.as_ref(), &note, ctx.lock_timeout, &on_wait);
        match rt.block_on(deadline::within(deadline, taking)) {
            Ok(true) => held.0.push(p.clone()),
            Ok(false) => {}
            Err(e) => {
                held.release(ctx, rt);
                return Err(e);
            }
        }
    }
    Ok(held)
}

pub fn run(ctx: &mut Ctx, args: LockArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let (platform, json) = match &args.command {
        LockCommand::Status(a) => (a.platform.get(), a.json),
        LockCommand::Release(a) => (a.platform.get(), false),
    };
    ctx.ui.json = json;
    let names: std::collections::BTreeSet<PlatformName> = match platform {
        Some(p) => [p].into(),
        None => Platforms::available(),
    };
    let rt = runtime()?;
    let platforms = Platforms::connect(&ws, &names, &Connection::quiet())?;
    match args.command {
        LockCommand::Status(_) => {
            let mut locks = Vec::new();
            for (name, p) in platforms.iter() {
                locks.push(match name {
                    // The workspace file lock is the local platform's lock.
                    PlatformName::Local => LockRecord::of_workspace(
                        crate::lock::probe(&ws.root, crate::lock::WORKSPACE_LOCK)?,
                        format!(
                            "{}/{}.lock",
                            crate::lock::LOCK_DIR,
                            crate::lock::WORKSPACE_LOCK
                        ),
                    ),
                    _ => LockRecord::of_platform(*name, &rt.block_on(p.lock_status())?),
                });
            }
            if ctx.ui.json {
                output::emit(&ctx.ui, "lock status", LockStatusOutput { locks });
            } else {
                for r in &locks {
                    ctx.ui.result(status_line(r));
                }
            }
            Ok(Outcome::Done)
        }
        LockCommand::Release(a) => {
            require_yes_off_terminal("release the lock", a.yes, None)?;
            for (name, p) in platforms.iter() {
                let state = rt.block_on(p.lock_status())?;
                match &state {
                    LockState::Unsupported => ctx.ui.result(format!(
                        "{name}: no platform lock (the workspace file lock frees itself when its holder exits)"
                    )),
                    LockState::Free => ctx.ui.result(format!("{name}: free, nothing to release")),
                    LockState::Held { .. } => {
                        ctx.ui
                            .say(format!("{name}: held by {}", state.describe_holder()));
                        confirm(
                            ctx,
                            a.yes,
                            &format!("Release the {name} lock? Only if that run is gone"),
                        )?;
                        rt.block_on(p.release_lock())?;
                        ctx.ui.result(format!("{name}: released"));
                    }
                }
            }
            Ok(Outcome::Done)
        }
    }
}

fn status_line(r: &LockRecord) -> String {
    let name = r.platform;
    let resource = r.resource.as_deref().unwrap_or_default();
    match (r.state, &r.run) {
        (LockStateName::Held, Some(run)) => {
            let who = r.holder.as_deref().unwrap_or_default();
            let pid = r.pid.unwrap_or_default();
            let since = r.since.as_deref().unwrap_or_default();
            let age = r
                .age_secs
                .map(|a| format!(" ({} ago)", age_text(a)))
                .unwrap_or_default();
            let message = r
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            let stale = if r.stale == Some(true) {
                format!(
                    "; that process is gone from this machine: free it with `scalewize lock release --platform {name}` (the next deploy here takes it over)"
                )
            } else {
                String::new()
            };
            format!(
                "{name}: held by {who} (pid {pid}), running `{run}` since {since}{age}{message} [{resource}]{stale}"
            )
        }
        (LockStateName::Held, None) if name == PlatformName::Local => format!(
            "{name}: held by a run that wrote no note yet [{resource}]; it is a kernel lock, freed when that process exits"
        ),
        (LockStateName::Held, None) => format!(
            "{name}: held by an unknown holder that wrote no note [{resource}]; if no run is under way: `scalewize lock release --platform {name}`"
        ),
        (LockStateName::Free, _) => format!("{name}: free"),
        (LockStateName::None, _) => format!("{name}: no platform lock"),
    }
}
