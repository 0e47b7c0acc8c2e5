//! `scalewize lock status|release`, and taking the platform locks for deploy and destroy
//! (after the workspace file lock; released at the end, also on error). The locks themselves
//! live in `platform::lock` and each platform's `lock` module.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

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
            let mut rows = Vec::new();
            for (name, p) in platforms.iter() {
                let state = match name {
                    // The workspace file lock is the local platform's lock.
                    PlatformName::Local => {
                        match crate::lock::holder(&ws.root, crate::lock::WORKSPACE_LOCK) {
                            Some(h) => json!({"platform": name, "state": "held",
                                "resource": format!("{}/{}.lock", crate::lock::LOCK_DIR, crate::lock::WORKSPACE_LOCK),
                                "holder": h.host, "pid": h.pid, "run": h.command, "since": h.since}),
                            None => json!({"platform": name, "state": "free"}),
                        }
                    }
                    _ => state_json(*name, &rt.block_on(p.lock_status())?),
                };
                rows.push(state);
            }
            if ctx.ui.json {
                ctx.ui.json_out(&json!({"locks": rows}));
            } else {
                for r in &rows {
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

fn state_json(name: PlatformName, s: &LockState) -> serde_json::Value {
    match s {
        LockState::Unsupported => json!({"platform": name, "state": "none"}),
        LockState::Free => json!({"platform": name, "state": "free"}),
        LockState::Held {
            resource,
            note: Some(n),
        } => json!({"platform": name, "state": "held", "resource": resource,
            "holder": n.holder, "pid": n.pid, "run": n.run, "since": n.since,
            "age_secs": n.age_secs(), "message": n.message, "stale": n.is_stale()}),
        LockState::Held {
            resource,
            note: None,
        } => json!({"platform": name, "state": "held", "resource": resource}),
    }
}

fn status_line(r: &serde_json::Value) -> String {
    let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let name = s("platform");
    match s("state").as_str() {
        "held" if r.get("run").is_some() => {
            let age = r
                .get("age_secs")
                .and_then(serde_json::Value::as_u64)
                .map(|a| format!(" ({} ago)", age_text(a)))
                .unwrap_or_default();
            let stale = if r["stale"] == true {
                format!(
                    "; that process is gone from this machine: free it with `scalewize lock release --platform {name}` (the next deploy here takes it over)"
                )
            } else {
                String::new()
            };
            format!(
                "{name}: held by {} (pid {}), running `{}` since {}{age} [{}]{stale}",
                s("holder"),
                r["pid"],
                s("run"),
                s("since"),
                s("resource")
            )
        }
        "held" => format!(
            "{name}: held by an unknown holder that wrote no note [{}]; if no run is under way: `scalewize lock release --platform {name}`",
            s("resource")
        ),
        "free" => format!("{name}: free"),
        _ => format!("{name}: no platform lock"),
    }
}
