//! Monthly cost estimates (SPEC §7.5): prices as data (`prices.json`, shipped in the binary and
//! overridable by the workspace), what each desired or live service costs on its platform, and
//! the roll-up per client and in total. Pure functions over `ServiceSpec`s from `plan::desired`
//! (or live services); nothing here calls a platform, so `cost`, `diff` and `deploy` agree.

pub mod prices;
pub mod report;
pub mod service;

pub use crate::workspace::prices::Amount;
pub use prices::Prices;
pub use report::{ClientCost, Comparison, Estimate, Minimum, estimate};
pub use service::{ServiceCost, Term, Unit, service_cost};
