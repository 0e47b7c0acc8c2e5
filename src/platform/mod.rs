//! Platforms: one interface — observe what is live, apply one planned step — implemented once
//! per platform (each in its own folder). The planner and the executor know nothing else.

pub mod fly;
pub mod local;
pub mod railway;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plan::service::{ServiceKey, ServiceSpec};
use crate::secrets::Secret;
use crate::workspace::{PlatformName, Workspace};

/// Comparable settings of a service: `field → value`. Fields named `secret.<NAME>` hold
/// fingerprints, never values.
pub type Fields = BTreeMap<String, String>;

/// What a platform reports about a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Running,
    /// Deploying or starting up.
    Starting,
    /// Not serving: stopped, crashed, or its process is gone.
    Down,
    /// Restarted too often; the supervisor gave up.
    Crashloop,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Running => "running",
            State::Starting => "starting",
            State::Down => "down",
            State::Crashloop => "crashloop",
        }
    }
}

/// A service as found live, by its deterministic name and scalewize's marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub key: ServiceKey,
    pub platform: PlatformName,
    /// The platform's id for it (Railway service id, Fly app name, local state file).
    pub id: String,
    /// The URL clients use: the MCP endpoint, or LibreChat's base URL.
    pub url: Option<String>,
    pub state: State,
    /// A short reason when not running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub fields: Fields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Create,
    Update,
    Delete,
}

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
    fn fields(&self, spec: &ServiceSpec, base: Fields) -> Fields {
        let _ = spec;
        base
    }

    /// Called once before applying, with every spec this run creates or updates here
    /// (the local platform builds binaries).
    async fn prepare(
        &self,
        specs: &[&ServiceSpec],
        progress: &crate::apply::progress::Progress,
    ) -> Result<()> {
        let _ = (specs, progress);
        Ok(())
    }

    /// What is live for `owners` (`None`: every resource scalewize owns here).
    async fn observe(&self, owners: Option<&BTreeSet<String>>) -> Result<Vec<Observed>>;

    /// Apply one step and wait until the service is healthy (or the deadline passes).
    async fn apply(&self, step: Step<'_>) -> Result<Applied>;

    /// Recent log lines of a service.
    async fn logs(&self, key: &ServiceKey, lines: usize) -> Result<Vec<String>> {
        let _ = (key, lines);
        Err(Error::new(format!(
            "logs are not available on {}",
            self.name()
        )))
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
        let mut names = BTreeSet::from([PlatformName::Local]);
        let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        if set("RAILWAY_API_TOKEN") || set("RAILWAY_TOKEN") {
            names.insert(PlatformName::Railway);
        }
        if set("FLY_API_TOKEN") {
            names.insert(PlatformName::Fly);
        }
        names
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
