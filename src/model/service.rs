//! Services: what scalewize runs on a platform, named the same way on every platform.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secrets::SecretRef;
use crate::workspace::prices::Usage;
use crate::workspace::{Owner, PlatformName, RunSpec, Size};

/// Where LibreChat reads its config inside its container (every platform puts the file there).
pub const LIBRECHAT_CONFIG_PATH: &str = "/app/librechat.yaml";

/// The service name of each client's LibreChat.
pub const LIBRECHAT: &str = "librechat";

/// A service's identity: owner, service (server slug or `librechat`) and, for per-user
/// instances, the user. Platform names derive from it deterministically.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ServiceKey {
    /// `shared` or a client id.
    pub owner: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

pub const SHARED_OWNER: &str = "shared";

impl ServiceKey {
    pub fn new(owner: &Owner, service: &str, user: Option<&str>) -> Self {
        ServiceKey {
            owner: owner.label().to_string(),
            service: service.to_string(),
            user: user.map(str::to_string),
        }
    }
    pub fn librechat(client: &str) -> Self {
        ServiceKey {
            owner: client.to_string(),
            service: LIBRECHAT.to_string(),
            user: None,
        }
    }
    pub fn owner(&self) -> Owner {
        if self.owner == SHARED_OWNER {
            Owner::Shared
        } else {
            Owner::Client(self.owner.clone())
        }
    }
    pub fn is_shared(&self) -> bool {
        self.owner == SHARED_OWNER
    }
    pub fn is_librechat(&self) -> bool {
        self.service == LIBRECHAT && self.user.is_none()
    }
    /// `ServiceSpec::stops_when_idle` for a live service known only by its key (LibreChat is the
    /// only kind that stays up, and only LibreChat has its key).
    pub fn stops_when_idle(&self) -> bool {
        !self.is_librechat()
    }
    /// `<service>[-<user>]`: the name inside an owner's project (Railway service name).
    pub fn name_in_project(&self) -> String {
        match &self.user {
            Some(u) => format!("{}-{u}", self.service),
            None => self.service.clone(),
        }
    }
    /// `<prefix>-<owner>-<service>[-<user>]`: a name unique in the whole account (Fly app name).
    pub fn global_name(&self, prefix: &str) -> String {
        format!("{prefix}-{}-{}", self.owner, self.name_in_project())
    }
    /// Dependency order: shared servers, client servers, per-user instances, then LibreChat.
    pub fn tier(&self) -> u8 {
        match (self.is_shared(), self.user.is_some(), self.is_librechat()) {
            (true, _, _) => 0,
            (_, _, true) => 3,
            (_, true, _) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.service)?;
        if let Some(u) = &self.user {
            write!(f, "@{u}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    Mcp,
    LibreChat,
}

/// One value of a service's environment, before resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum SpecValue {
    Plain {
        value: String,
    },
    Secret(SecretRef),
    /// The public URL of another service (known once it is deployed).
    UrlOf {
        service: ServiceKey,
    },
    /// This service's own public URL (LibreChat's `DOMAIN_CLIENT`/`DOMAIN_SERVER`).
    OwnUrl,
}

/// How the `local` platform runs a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalRun {
    pub run: RunSpec,
    /// The server folder (working directory of a `command`).
    pub folder: std::path::PathBuf,
}

/// Railway: deploy from a repository; the root directory is the server folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoSource {
    pub repo: String,
    pub branch: String,
    pub root_dir: String,
    /// The last commit that touched the folder, when known.
    pub commit: Option<String>,
}

/// What a service should be: the desired state, platform-agnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    pub kind: ServiceKind,
    pub platform: PlatformName,
    /// The clients it serves (many for a shared server).
    pub clients: BTreeSet<String>,
    pub image: Option<String>,
    pub repo: Option<RepoSource>,
    pub local: Option<LocalRun>,
    pub port: u16,
    /// The MCP endpoint path (`/mcp`), or `/` for LibreChat.
    pub path: String,
    pub health_path: String,
    pub region: Option<String>,
    pub size: Size,
    pub env: BTreeMap<String, SpecValue>,
    /// Files placed in the container: path → content (LibreChat's `librechat.yaml`).
    pub files: BTreeMap<String, String>,
    pub depends_on: BTreeSet<ServiceKey>,
    /// Expected usage from the manifest (only `scalewize cost` reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl ServiceSpec {
    /// A local MCP service of client `a` with nothing set, for unit tests to adjust.
    #[cfg(test)]
    pub fn for_tests(owner: &str, service: &str) -> ServiceSpec {
        ServiceSpec {
            key: ServiceKey {
                owner: owner.into(),
                service: service.into(),
                user: None,
            },
            kind: if service == "librechat" {
                ServiceKind::LibreChat
            } else {
                ServiceKind::Mcp
            },
            platform: crate::workspace::PlatformName::Local,
            clients: BTreeSet::from(["a".to_string()]),
            image: None,
            repo: None,
            local: None,
            port: 8080,
            path: "/mcp".into(),
            health_path: "/health".into(),
            region: None,
            size: crate::workspace::Size {
                cpus: 1,
                memory_mb: 256,
            },
            env: BTreeMap::new(),
            files: BTreeMap::new(),
            depends_on: BTreeSet::new(),
            usage: None,
        }
    }

    /// MCP servers stop when idle and start on the next request where the platform can (Fly);
    /// LibreChat stays up. The Fly machine config and the cost estimate both follow this.
    pub fn stops_when_idle(&self) -> bool {
        self.kind == ServiceKind::Mcp
    }

    pub fn secrets(&self) -> impl Iterator<Item = (&String, &SecretRef)> {
        self.env.iter().filter_map(|(k, v)| match v {
            SpecValue::Secret(r) => Some((k, r)),
            _ => None,
        })
    }
}
