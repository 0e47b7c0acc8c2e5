//! An emulator of Railway's public GraphQL API (`POST /graphql/v2`) for testing scalewize's
//! Railway client without reaching Railway.
//!
//! Requests are parsed and validated against Railway's real introspection schema (loaded at
//! run time, see [`schema::schema_path`]), variables are coerced against the operation, and
//! the subset of fields a deployer uses is executed over in-memory state. Faults (latency,
//! 5xx, lost responses, 429, list lag) are injected deterministically from a seed. See the
//! crate's README for what the emulator invents beyond the schema and the research notes.
//!
//! ```no_run
//! use railway_emulator::{Config, Emulator};
//! let emu = Emulator::start(Config::default().with_time_scale(0.01));
//! println!("{}", emu.url()); // http://127.0.0.1:<port>/graphql/v2
//! ```

mod config;
mod faults;
mod graphql;
mod log;
mod resolve;
pub mod schema;
mod server;
mod snapshot;
mod state;
mod util;

pub use config::{
    Behaviour, Config, DEFAULT_ACCOUNT_TOKEN, DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME,
    DEFAULT_WORKSPACE_TOKEN, DeployTimings, Faults, ForcedFault, Latency, ListLag, Plan,
    PlanLimits, RateLimits, StopAfter, StopMode, TokenConfig, TokenKind, WorkspaceConfig,
};
pub use faults::FaultCounters;
pub use log::{InjectedFault, OperationKind, RateLimited, RequestRecord, canonical, normalise};
pub use server::{ENDPOINT_PATH, Emulator, EmulatorHandle, RetryAfterViolation, StartError};
pub use snapshot::{
    DeploymentSnapshot, DomainSnapshot, EnvironmentSnapshot, InstanceSnapshot, ProjectSnapshot,
    ServiceSnapshot, Snapshot,
};
pub use state::DeploymentStatus;
