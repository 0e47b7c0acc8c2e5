//! The executor: walks a plan's actions as a dependency graph with bounded concurrency, resolves
//! each service's environment (secrets, the URLs of services it depends on) just before applying
//! it, retries transient failures after observing that the step did not already happen, and
//! reports per service and per client.

mod summary;

pub use summary::ClientResult;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::model::base_fields;
use crate::model::{Fields, Observed, Op};
use crate::model::{ServiceKey, ServiceSpec, SpecValue};
use crate::net::backoff::backoff;
use crate::plan::{Action, Plan};
use crate::platform::{Platforms, Resolved, ResolvedSpec, Step};
use crate::secrets::SecretSource;
use crate::ui::Progress;

/// Runs of one step (the bound lives with the other retry bounds in `net::retry`).
pub use crate::net::retry::STEP_RUNS as MAX_ATTEMPTS;

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
    ctx.progress.expect(actions.len());
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
    // Which action each task runs, so that a task that panics still gets a result.
    let mut tasks: BTreeMap<tokio::task::Id, usize> = BTreeMap::new();
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
            // Start only what can run now, so that --fail-fast really starts nothing more.
            let Ok(permit) = semaphore.clone().try_acquire_owned() else {
                break;
            };
            started[i] = true;
            let action = a.clone();
            let spec = specs.get(&a.key).cloned();
            let live = observed
                .iter()
                .find(|o| o.key == a.key && o.platform == a.platform)
                .cloned();
            let urls_now = urls.clone();
            let ctx = ctx.clone();
            let handle = running.spawn(async move {
                let _permit = permit;
                let (r, url) =
                    run_action(&ctx, &action, spec.as_ref(), live.as_ref(), &urls_now).await;
                (i, r, url)
            });
            tasks.insert(handle.id(), i);
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, result, url) = match joined {
            Ok(done) => done,
            Err(e) => match tasks.get(&e.id()) {
                Some(&i) => (i, StepResult::Failed(format!("internal error: {e}")), None),
                None => continue,
            },
        };
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
    // Nothing is dropped silently: whatever could not start is reported.
    for a in &actions {
        results.entry(a.key.clone()).or_insert_with(|| {
            StepResult::Skipped("skipped: its dependencies did not finish".into())
        });
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::model::ServiceSpec;
    use crate::platform::{Applied, Platform, Step};
    use crate::workspace::PlatformName;

    /// Fails `bad` for good; fails `flaky` once with an unknown outcome (and records observes).
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl Platform for Fake {
        fn name(&self) -> PlatformName {
            PlatformName::Local
        }
        async fn observe(&self, owners: Option<&BTreeSet<String>>) -> Result<Vec<Observed>> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("observe {owners:?}"));
            Ok(Vec::new())
        }
        async fn apply(&self, step: Step<'_>) -> Result<Applied> {
            let mut calls = self.calls.lock().unwrap();
            calls.push(format!("{:?} {}", step.op, step.key));
            let tries = calls
                .iter()
                .filter(|c| c.ends_with(&step.key.to_string()))
                .count();
            match step.key.service.as_str() {
                "bad" => Err(Error::new("it broke")),
                "flaky" if tries == 1 => {
                    Err(Error::transient("lost response", Some(Duration::ZERO)))
                }
                _ => Ok(Applied {
                    url: Some(format!("http://{}", step.key.service)),
                }),
            }
        }
    }

    struct NoSecrets;
    impl SecretSource for NoSecrets {
        fn value(&self, r: &crate::secrets::SecretRef) -> Result<crate::secrets::Secret> {
            Err(Error::new(r.name.clone()))
        }
        fn fingerprint(&self, r: &crate::secrets::SecretRef) -> Result<String> {
            Err(Error::new(r.name.clone()))
        }
    }

    fn spec(owner: &str, service: &str, deps: &[&ServiceKey]) -> ServiceSpec {
        ServiceSpec {
            port: 1,
            path: "/".into(),
            health_path: "/".into(),
            depends_on: deps.iter().map(|k| (*k).clone()).collect(),
            ..ServiceSpec::for_tests(owner, service)
        }
    }

    async fn run(
        specs: &[ServiceSpec],
        fail_fast: bool,
        concurrency: usize,
    ) -> (Outcome, Vec<String>) {
        let fake = Arc::new(Fake::default());
        let platforms = Platforms::from_map(BTreeMap::from([(
            PlatformName::Local,
            fake.clone() as Arc<dyn Platform>,
        )]));
        let plan = Plan {
            version: 1,
            clients: vec!["a".into()],
            platform_override: None,
            actions: specs
                .iter()
                .map(|s| Action {
                    key: s.key.clone(),
                    platform: s.platform,
                    op: Op::Create,
                    clients: vec!["a".into()],
                    changes: vec![],
                })
                .collect(),
            unchanged: vec![],
            inputs_digest: String::new(),
            observed_digest: String::new(),
            waves: None,
        };
        let by_key = specs.iter().map(|s| (s.key.clone(), s.clone())).collect();
        let opts = Options {
            concurrency,
            fail_fast,
            wait_timeout: Duration::from_secs(1),
        };
        let out = execute(
            &plan,
            &by_key,
            &[],
            &platforms,
            Arc::new(NoSecrets),
            Arc::new(Progress::new(false, true)),
            &opts,
        )
        .await;
        let calls = fake.calls.lock().unwrap().clone();
        (out, calls)
    }

    #[tokio::test]
    async fn a_failure_skips_only_its_dependents_and_unknown_outcomes_are_observed_first() {
        let bad = spec("shared", "bad", &[]);
        let flaky = spec("a", "flaky", &[]);
        let lc = spec("a", "librechat", &[&bad.key]);
        let after_flaky = spec("a", "needs-flaky", &[&flaky.key]);
        let (out, calls) = run(
            &[bad.clone(), flaky.clone(), lc.clone(), after_flaky.clone()],
            false,
            2,
        )
        .await;
        assert!(matches!(out.results[&bad.key], StepResult::Failed(_)));
        assert!(
            matches!(out.results[&lc.key], StepResult::Skipped(ref m) if m.contains("shared/bad"))
        );
        assert!(
            out.results[&flaky.key].is_ok(),
            "retried after a transient failure"
        );
        assert!(out.results[&after_flaky.key].is_ok());
        assert_eq!(out.urls[&after_flaky.key], "http://needs-flaky");
        let first = calls.iter().position(|c| c == "Create a/flaky").unwrap();
        let observe = calls
            .iter()
            .position(|c| c.starts_with("observe") && c.contains("\"a\""))
            .unwrap();
        let second = calls.iter().rposition(|c| c == "Create a/flaky").unwrap();
        assert!(
            first < observe && observe < second,
            "observed before repeating: {calls:?}"
        );
        assert!(
            !calls.iter().any(|c| c.contains("librechat")),
            "a skipped step never reaches the platform"
        );
    }

    #[tokio::test]
    async fn fail_fast_starts_nothing_after_a_failure() {
        // One at a time, `bad` first: nothing independent of it starts after it fails.
        let bad = spec("a", "bad", &[]);
        let first = spec("b", "first", &[]);
        let second = spec("c", "second", &[]);
        let (out, calls) = run(&[bad.clone(), first.clone(), second.clone()], true, 1).await;
        assert!(matches!(out.results[&bad.key], StepResult::Failed(_)));
        for k in [&first.key, &second.key] {
            assert!(
                matches!(out.results[k], StepResult::Skipped(ref m) if m.contains("--fail-fast")),
                "{calls:?}"
            );
        }
        assert_eq!(calls, ["Create a/bad"]);
        let (out, _) = run(&[bad, first.clone(), second.clone()], false, 1).await;
        assert!(
            out.results[&first.key].is_ok() && out.results[&second.key].is_ok(),
            "without --fail-fast the rest goes on"
        );
    }
}
