//! The executor: walks a plan's actions as a dependency graph with bounded concurrency, resolves
//! each service's environment (secrets, the URLs of services it depends on) just before applying
//! it, retries transient failures after observing that the step did not already happen, and
//! reports per service and per client.

pub mod progress;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::plan::service::{ServiceKey, ServiceSpec, SpecValue};
use crate::plan::{Action, Plan, SecretSource, base_fields};
use crate::platform::{Fields, Observed, Op, Platforms, Resolved, ResolvedSpec, Step};
use progress::Progress;

pub const MAX_ATTEMPTS: u32 = 4;

/// Multiplies every sleep: tests against emulators run at a fraction of real time.
pub fn time_scale() -> f64 {
    std::env::var("SCALEWIZE_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(1.0)
}

pub fn scaled(d: Duration) -> Duration {
    d.mul_f64(time_scale())
}

/// Backoff with full jitter: a random wait up to `base · 2^attempt` (capped), or what the server asked.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return scaled(d);
    }
    let cap = Duration::from_millis((250u64 << attempt.min(6)).min(8_000));
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    let frac = (u64::from_le_bytes(b) % 1000) as f64 / 1000.0;
    scaled(cap.mul_f64(0.5 + frac / 2.0))
}

#[derive(Debug, Clone)]
pub enum StepResult {
    Done {
        url: Option<String>,
        elapsed: Duration,
    },
    Failed(String),
    Skipped(String),
}

impl StepResult {
    pub fn is_ok(&self) -> bool {
        matches!(self, StepResult::Done { .. })
    }
}

pub struct Options {
    pub concurrency: usize,
    pub fail_fast: bool,
    pub wait_timeout: Duration,
}

pub struct Outcome {
    pub results: BTreeMap<ServiceKey, StepResult>,
    /// Every known URL after the run (observed, then applied).
    pub urls: BTreeMap<ServiceKey, String>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.results.values().any(|r| !r.is_ok())
    }
}

/// Resolve a spec's environment and the fields it will have.
pub fn resolve(
    spec: &ServiceSpec,
    urls: &BTreeMap<ServiceKey, String>,
    secrets: &dyn SecretSource,
    platforms: &Platforms,
) -> Result<ResolvedSpec> {
    let mut env = BTreeMap::new();
    let mut fps = BTreeMap::new();
    for (name, v) in &spec.env {
        let r = match v {
            SpecValue::Plain { value } => Resolved::Plain(value.clone()),
            SpecValue::OwnUrl => Resolved::OwnUrl,
            SpecValue::UrlOf { service } => {
                Resolved::Url(urls.get(service).cloned().ok_or_else(|| {
                    Error::new(format!(
                        "{}: the URL of {service} is not known (is it deployed?)",
                        spec.key
                    ))
                })?)
            }
            SpecValue::Secret(r) => {
                let fingerprint = secrets.fingerprint(r)?;
                fps.insert(r.clone(), fingerprint.clone());
                Resolved::Secret {
                    value: secrets.value(r)?,
                    fingerprint,
                }
            }
        };
        env.insert(name.clone(), r);
    }
    let platform = platforms.get(spec.platform);
    let fields: Fields = platform.fields(spec, base_fields(spec, urls, &fps));
    Ok(ResolvedSpec {
        spec: spec.clone(),
        env,
        fields,
    })
}

struct Ctx {
    platforms: Platforms,
    secrets: Arc<dyn SecretSource>,
    progress: Arc<Progress>,
    wait_timeout: Duration,
}

/// Apply `plan`. `specs` are the desired services by key; `observed` what was live when planned.
pub async fn execute(
    plan: &Plan,
    specs: &BTreeMap<ServiceKey, ServiceSpec>,
    observed: &[Observed],
    platforms: &Platforms,
    secrets: Arc<dyn SecretSource>,
    progress: Arc<Progress>,
    opts: &Options,
) -> Outcome {
    let mut urls: BTreeMap<ServiceKey, String> = observed
        .iter()
        .filter_map(|o| o.url.clone().map(|u| (o.key.clone(), u)))
        .collect();
    let ctx = Arc::new(Ctx {
        platforms: platforms.clone(),
        secrets,
        progress,
        wait_timeout: opts.wait_timeout,
    });
    let actions: Vec<Action> = plan.actions.clone();
    let in_plan: BTreeSet<&ServiceKey> = actions
        .iter()
        .filter(|a| a.op != Op::Delete)
        .map(|a| &a.key)
        .collect();
    // What each action waits for.
    let deps: Vec<BTreeSet<ServiceKey>> = actions
        .iter()
        .map(|a| match a.op {
            Op::Delete => in_plan.iter().map(|k| (*k).clone()).collect(),
            _ => specs
                .get(&a.key)
                .map(|s| {
                    s.depends_on
                        .iter()
                        .filter(|d| in_plan.contains(d))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let semaphore = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut results: BTreeMap<ServiceKey, StepResult> = BTreeMap::new();
    let mut started = vec![false; actions.len()];
    let mut running: JoinSet<(usize, StepResult, Option<String>)> = JoinSet::new();
    let mut stop = false;
    loop {
        for (i, a) in actions.iter().enumerate() {
            if started[i] {
                continue;
            }
            let blocked = deps[i]
                .iter()
                .find(|d| results.get(*d).is_some_and(|r| !r.is_ok()));
            if stop || blocked.is_some() {
                let why = match blocked {
                    Some(d) => format!("skipped: {d} did not deploy"),
                    None => "skipped: --fail-fast after an earlier failure".to_string(),
                };
                ctx.progress.finish(&a.key.to_string(), &why);
                results.insert(a.key.clone(), StepResult::Skipped(why));
                started[i] = true;
                continue;
            }
            if !deps[i].iter().all(|d| results.contains_key(d)) {
                continue;
            }
            started[i] = true;
            let action = a.clone();
            let spec = specs.get(&a.key).cloned();
            let live = observed
                .iter()
                .find(|o| o.key == a.key && o.platform == a.platform)
                .cloned();
            let urls_now = urls.clone();
            let ctx = ctx.clone();
            let permit = semaphore.clone();
            running.spawn(async move {
                let _permit = permit.acquire_owned().await;
                let (r, url) =
                    run_action(&ctx, &action, spec.as_ref(), live.as_ref(), &urls_now).await;
                (i, r, url)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, result, url) = joined.unwrap_or_else(|e| {
            (
                usize::MAX,
                StepResult::Failed(format!("internal error: {e}")),
                None,
            )
        });
        if i == usize::MAX {
            continue;
        }
        let key = actions[i].key.clone();
        if let Some(u) = url {
            urls.insert(key.clone(), u);
        } else if actions[i].op == Op::Delete && result.is_ok() {
            urls.remove(&key);
        }
        if !result.is_ok() && opts.fail_fast {
            stop = true;
        }
        results.insert(key, result);
    }
    Outcome { results, urls }
}

async fn run_action(
    ctx: &Ctx,
    action: &Action,
    spec: Option<&ServiceSpec>,
    live: Option<&Observed>,
    urls: &BTreeMap<ServiceKey, String>,
) -> (StepResult, Option<String>) {
    let item = action.key.to_string();
    let verb = match action.op {
        Op::Create => "creating",
        Op::Update => "updating",
        Op::Delete => "deleting",
    };
    ctx.progress
        .update(&item, &format!("{verb} on {}", action.platform));
    let started = Instant::now();
    let resolved = match (action.op, spec) {
        (Op::Delete, _) => None,
        (_, Some(s)) => match resolve(s, urls, ctx.secrets.as_ref(), &ctx.platforms) {
            Ok(r) => Some(r),
            Err(e) => {
                let msg = format!("failed: {}", e.message);
                ctx.progress.finish(&item, &msg);
                return (StepResult::Failed(e.message), None);
            }
        },
        (_, None) => return (StepResult::Failed("no desired spec".into()), None),
    };
    let platform = ctx.platforms.get(action.platform).clone();
    let progress = ctx.progress.clone();
    let item2 = item.clone();
    let report = move |m: &str| progress.update(&item2, m);
    let mut op = action.op;
    let mut live = live.cloned();
    let mut attempt = 0;
    loop {
        let step = Step {
            op,
            key: &action.key,
            spec: resolved.as_ref(),
            observed: live.as_ref(),
            deadline: Instant::now() + ctx.wait_timeout,
            progress: &report,
        };
        match platform.apply(step).await {
            Ok(applied) => {
                let elapsed = started.elapsed();
                let done = match action.op {
                    Op::Create => "created",
                    Op::Update => "updated",
                    Op::Delete => "deleted",
                };
                let url = applied
                    .url
                    .clone()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                ctx.progress.finish(
                    &item,
                    &format!("{done} ({:.1}s){url}", elapsed.as_secs_f64()),
                );
                return (
                    StepResult::Done {
                        url: applied.url.clone(),
                        elapsed,
                    },
                    applied.url,
                );
            }
            Err(e) if e.is_transient() && attempt + 1 < MAX_ATTEMPTS => {
                attempt += 1;
                let wait = backoff(attempt, e.transient.and_then(|t| t.retry_after));
                report(&format!(
                    "{} — retrying in {:.1}s (attempt {}/{MAX_ATTEMPTS})",
                    e.message,
                    wait.as_secs_f64(),
                    attempt + 1
                ));
                tokio::time::sleep(wait).await;
                // The outcome of the failed call is unknown: look before doing it again.
                let owners = BTreeSet::from([action.key.owner.clone()]);
                match platform.observe(Some(&owners)).await {
                    Ok(now) => {
                        live = now.into_iter().find(|o| o.key == action.key);
                        op = match (action.op, &live) {
                            (Op::Delete, None) => {
                                ctx.progress
                                    .finish(&item, "deleted (confirmed by observing)");
                                return (
                                    StepResult::Done {
                                        url: None,
                                        elapsed: started.elapsed(),
                                    },
                                    None,
                                );
                            }
                            (Op::Delete, Some(_)) => Op::Delete,
                            (_, Some(_)) => Op::Update,
                            (_, None) => Op::Create,
                        };
                    }
                    Err(oe) => report(&format!("observing failed too: {}", oe.message)),
                }
            }
            Err(e) => {
                let mut msg = e.message.clone();
                if let Some(h) = &e.hint {
                    msg.push_str(&format!(" ({h})"));
                }
                ctx.progress.finish(&item, &format!("failed: {msg}"));
                return (StepResult::Failed(msg), None);
            }
        }
    }
}
