//! Platforms: one interface — observe what is live, apply one planned step — implemented once
//! per platform (each in its own folder). The planner and the executor know nothing else.

pub mod check;
pub mod fly;
pub mod local;
pub mod lock;
pub mod railway;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::model::{Fields, Observed, Op, ServiceKey, ServiceSpec};
use crate::secrets::Secret;
use crate::workspace::{PlatformName, Workspace};

/// A resolved environment value, ready to hand to a platform.
#[derive(Debug, Clone)]
pub enum Resolved {
    Plain(String),
    /// Another service's URL.
    Url(String),
    /// This service's own public URL: each platform knows its own.
    OwnUrl,
    Secret {
        value: Secret,
        fingerprint: String,
    },
}

/// A desired service with every value resolved (secrets, dependency URLs).
#[derive(Debug, Clone)]
pub struct ResolvedSpec {
    pub spec: ServiceSpec,
    pub env: BTreeMap<String, Resolved>,
    /// The fields the plan expects after this step (platforms record what they need of them).
    pub fields: Fields,
}

/// A progress callback: one short line about the work under way.
pub type ProgressFn = dyn for<'s> Fn(&'s str) + Send + Sync;

/// One planned step, handed to `Platform::apply`.
pub struct Step<'a> {
    pub op: Op,
    pub key: &'a ServiceKey,
    pub spec: Option<&'a ResolvedSpec>,
    pub observed: Option<&'a Observed>,
    /// When waiting for the service to become healthy gives up.
    pub deadline: Instant,
    pub progress: &'a ProgressFn,
}

#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub url: Option<String>,
}

#[async_trait::async_trait]
pub trait Platform: Send + Sync {
    fn name(&self) -> PlatformName;

    /// The comparable fields of a desired service on this platform, from the platform-agnostic
    /// `base` (drop what the platform does not have, add what it records).
    fn fields(&self, _spec: &ServiceSpec, base: Fields) -> Fields {
        base
    }

    /// Called once before applying, with every spec this run creates or updates here
    /// (the local platform builds binaries).
    async fn prepare(&self, specs: &[&ServiceSpec], progress: &crate::ui::Progress) -> Result<()> {
        let _ = (specs, progress);
        Ok(())
    }

    /// What is live for `owners` (`None`: every resource scalewize owns here).
    async fn observe(&self, owners: Option<&BTreeSet<String>>) -> Result<Vec<Observed>>;

    /// Apply one step and wait until the service is healthy (or the deadline passes).
    async fn apply(&self, step: Step<'_>) -> Result<Applied>;

    /// Read-only checks of what this platform needs (`scalewize doctor`) for `specs`, the
    /// services the workspace places here.
    async fn doctor(&self, specs: &[&ServiceSpec]) -> Vec<check::Check> {
        let _ = specs;
        Vec::new()
    }

    /// Try once to take this platform's lock (see `lock`); the default: no platform lock.
    async fn acquire_lock(&self, note: &lock::LockNote) -> Result<lock::Taken> {
        let _ = note;
        Ok(lock::Taken::Unsupported)
    }

    /// This platform's lock as it is now.
    async fn lock_status(&self) -> Result<lock::LockState> {
        Ok(lock::LockState::Unsupported)
    }

    /// Free this platform's lock, whoever holds it; returns whether one was held.
    async fn release_lock(&self) -> Result<bool> {
        Ok(false)
    }

    /// Recent log lines of a service.
    async fn logs(&self, key: &ServiceKey, lines: usize) -> Result<Vec<String>> {
        let _ = (key, lines);
        Err(Error::new(format!(
            "logs are not available on {}",
            self.name()
        )))
    }
}

/// Why a service cannot run on its platform: the manifest field to change, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit {
    pub field: &'static str,
    pub problem: String,
    pub hint: String,
}

/// Whether `spec` can run on its platform (each platform's own rule, in its `fit` module).
pub fn check_spec(spec: &ServiceSpec) -> std::result::Result<(), Unfit> {
    match spec.platform {
        PlatformName::Local => local::fit::check(spec),
        PlatformName::Railway => railway::fit::check(spec),
        PlatformName::Fly => fly::fit::check(spec),
    }
}

/// The environment variables holding `name`'s credentials (empty: it needs none).
pub fn token_vars(name: PlatformName) -> &'static [&'static str] {
    match name {
        PlatformName::Local => local::fit::TOKEN_VARS,
        PlatformName::Railway => railway::fit::TOKEN_VARS,
        PlatformName::Fly => fly::fit::TOKEN_VARS,
    }
}

/// What connecting to a platform needs from the command: where debug lines go (already masked).
#[derive(Clone)]
pub struct Connection {
    pub debug: crate::net::DebugSink,
}

impl Connection {
    /// Debug lines nowhere (tests, and commands that do not talk to clouds).
    pub fn quiet() -> Self {
        Connection {
            debug: Arc::new(|_, _| {}),
        }
    }
}

/// The platforms a run touches, connected once.
#[derive(Default, Clone)]
pub struct Platforms {
    map: BTreeMap<PlatformName, Arc<dyn Platform>>,
}

impl Platforms {
    /// Connect to `names`: credentials and endpoints come from the environment (SPEC §4).
    pub fn connect(
        ws: &Workspace,
        names: &BTreeSet<PlatformName>,
        conn: &Connection,
    ) -> Result<Platforms> {
        let mut map: BTreeMap<PlatformName, Arc<dyn Platform>> = BTreeMap::new();
        for name in names {
            let p: Arc<dyn Platform> = match name {
                PlatformName::Local => Arc::new(local::LocalPlatform::new(ws)?),
                PlatformName::Railway => Arc::new(railway::RailwayPlatform::new(ws, conn)?),
                PlatformName::Fly => Arc::new(fly::FlyPlatform::new(ws, conn)?),
            };
            map.insert(*name, p);
        }
        Ok(Platforms { map })
    }

    /// Every platform this machine can reach: `local`, plus clouds whose tokens are set.
    pub fn available() -> BTreeSet<PlatformName> {
        let set = |v: &&str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        <PlatformName as clap::ValueEnum>::value_variants()
            .iter()
            .copied()
            .filter(|p| {
                let vars = token_vars(*p);
                vars.is_empty() || vars.iter().any(set)
            })
            .collect()
    }

    /// Platforms built by the caller (tests use fakes).
    pub fn from_map(map: BTreeMap<PlatformName, Arc<dyn Platform>>) -> Platforms {
        Platforms { map }
    }

    pub fn get(&self, name: PlatformName) -> &Arc<dyn Platform> {
        self.map.get(&name).expect("connected before use")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PlatformName, &Arc<dyn Platform>)> {
        self.map.iter()
    }
}
