//! What is live: a service as a platform reports it, and the operations a plan applies to it.

use serde::{Deserialize, Serialize};

use super::Fields;
use super::service::ServiceKey;
use crate::workspace::PlatformName;

/// What a platform reports about a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Running,
    /// Deploying or starting up.
    Starting,
    /// Not serving: stopped, crashed, or its process is gone.
    Down,
    /// Restarted too often; the supervisor gave up.
    Crashloop,
    /// Its configuration is written, but nothing runs it (local LibreChat without Docker).
    ConfigOnly,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Running => "running",
            State::Starting => "starting",
            State::Down => "down",
            State::Crashloop => "crashloop",
            State::ConfigOnly => "config-only",
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

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Create,
    Update,
    Delete,
}
