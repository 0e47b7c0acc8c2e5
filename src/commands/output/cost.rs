//! `cost --json`: the monthly estimate per service, per client and in total. Money is a decimal
//! string in US dollars a month with two decimals (`"5.82"`), exact; a term's figure is not rounded.

use schemars::JsonSchema;
use serde::Serialize;

use crate::cost::{Estimate, Prices, ServiceCost};
use crate::model::ServiceKey;
use crate::workspace::prices::Amount;
use crate::workspace::{CredentialMode, PlatformName};

#[derive(Serialize, JsonSchema)]
pub struct CostOutput {
    /// Always `USD`.
    pub currency: String,
    /// Always `month`.
    pub period: String,
    pub prices: PricesRecord,
    pub services: Vec<ServiceCostRecord>,
    pub clients: Vec<ClientCostRecord>,
    /// Platform plans' minimums, applied once to the whole estimate.
    pub minimums: Vec<MinimumRecord>,
    /// For each per-user server: its cost now, and under the other credential mode.
    pub comparisons: Vec<ComparisonRecord>,
    /// Every service once (shared ones whole) plus the plan minimums.
    pub total: String,
}

/// The prices in force.
#[derive(Serialize, JsonSchema)]
pub struct PricesRecord {
    /// The day the shipped (or overriding) prices were read.
    pub date: String,
    pub source: String,
    /// The workspace file that overrides the shipped prices, relative to the workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overridden_by: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ServiceCostRecord {
    pub key: ServiceKey,
    pub platform: PlatformName,
    /// The clients it serves (a shared server's cost is split evenly over them).
    pub clients: Vec<String>,
    pub monthly: String,
    /// Railway: the cost at the size limits, the most it can cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst_case: Option<String>,
    /// How `monthly` is made up, in words.
    pub terms: Vec<TermRecord>,
}

#[derive(Serialize, JsonSchema)]
pub struct TermRecord {
    pub what: String,
    pub usd: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ClientCostRecord {
    pub client: String,
    /// Its own services (per-user instances included).
    pub own: String,
    /// Its even share of the shared servers it uses.
    pub shared_share: String,
    pub total: String,
}

#[derive(Serialize, JsonSchema)]
pub struct MinimumRecord {
    pub platform: PlatformName,
    pub plan: String,
    pub monthly: String,
    pub included: String,
    /// The usage priced on that platform.
    pub usage: String,
    /// What the plan adds on top of the usage (0 once usage exceeds the included amount).
    pub top_up: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ComparisonRecord {
    pub client: String,
    pub server: String,
    pub users: usize,
    pub mode: CredentialMode,
    pub monthly: String,
    pub other_mode: CredentialMode,
    pub other_monthly: String,
    /// One instance at the same size and usage.
    pub per_instance: String,
}

/// Money in JSON: `"5.82"`.
pub fn usd(a: Amount) -> String {
    a.dollars().trim_start_matches('$').to_string()
}

impl CostOutput {
    /// `overridden_by` is the override file as the user should read it (relative to the workspace).
    pub fn new(est: &Estimate, prices: &Prices, overridden_by: Option<String>) -> Self {
        CostOutput {
            currency: "USD".into(),
            period: "month".into(),
            prices: PricesRecord {
                date: prices.date.clone(),
                source: prices.source.clone(),
                overridden_by,
            },
            services: est.services.iter().map(ServiceCostRecord::from).collect(),
            clients: est
                .clients
                .iter()
                .map(|c| ClientCostRecord {
                    client: c.client.clone(),
                    own: usd(c.own),
                    shared_share: usd(c.shared_share),
                    total: usd(c.total),
                })
                .collect(),
            minimums: est
                .minimums
                .iter()
                .map(|m| MinimumRecord {
                    platform: m.platform,
                    plan: m.plan.clone(),
                    monthly: usd(m.monthly),
                    included: usd(m.included),
                    usage: usd(m.usage),
                    top_up: usd(m.top_up),
                })
                .collect(),
            comparisons: est
                .comparisons
                .iter()
                .map(|c| ComparisonRecord {
                    client: c.client.clone(),
                    server: c.server.clone(),
                    users: c.users,
                    mode: c.mode,
                    monthly: usd(c.monthly),
                    other_mode: c.other_mode,
                    other_monthly: usd(c.other_monthly),
                    per_instance: usd(c.per_instance),
                })
                .collect(),
            total: usd(est.total),
        }
    }
}

impl From<&ServiceCost> for ServiceCostRecord {
    fn from(s: &ServiceCost) -> Self {
        ServiceCostRecord {
            key: s.key.clone(),
            platform: s.platform,
            clients: s.clients.clone(),
            monthly: usd(s.monthly),
            worst_case: s.worst_case.map(usd),
            terms: s
                .terms
                .iter()
                .map(|t| TermRecord {
                    what: t.what.clone(),
                    usd: t.usd.to_string(),
                })
                .collect(),
        }
    }
}
