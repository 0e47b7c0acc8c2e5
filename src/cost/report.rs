//! A whole estimate: every service's cost, each client's (its own services, plus an even share
//! of each shared server it uses), the total (shared servers whole, Railway's plan minimum once),
//! and for each per-user server what the other credential mode would cost.

use std::collections::BTreeMap;

use serde::Serialize;

use super::prices::{DEFAULT_RAILWAY_PLAN, Prices};
use super::service::{ServiceCost, Unit, service_cost};
use crate::workspace::prices::Amount;
use crate::workspace::{Client, CredentialMode, PlatformName};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientCost {
    pub client: String,
    /// Its own services (per-user instances included).
    pub own: Amount,
    /// Its even share of the shared servers it uses.
    pub shared_share: Amount,
    pub total: Amount,
}

/// A platform plan's monthly minimum, applied once to the whole estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Minimum {
    pub platform: PlatformName,
    pub plan: String,
    pub monthly: Amount,
    pub included: Amount,
    /// The usage priced on that platform.
    pub usage: Amount,
    /// What the plan adds on top of the usage (0 once usage exceeds the included amount).
    pub top_up: Amount,
}

/// A per-user server under its credential mode now, and under the other one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub client: String,
    pub server: String,
    pub users: usize,
    pub mode: CredentialMode,
    pub monthly: Amount,
    pub other_mode: CredentialMode,
    pub other_monthly: Amount,
    /// The cost of one instance, at the same size and usage.
    pub per_instance: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub services: Vec<ServiceCost>,
    pub clients: Vec<ClientCost>,
    pub minimums: Vec<Minimum>,
    pub comparisons: Vec<Comparison>,
    /// Every service once (shared ones whole) plus the plan minimums.
    pub total: Amount,
}

/// Price `units` for `clients`; `railway_plan` is `scalewize.json`'s `railway.plan`.
pub fn estimate(
    units: &[Unit],
    clients: &[&Client],
    prices: &Prices,
    railway_plan: Option<&str>,
) -> Estimate {
    let services: Vec<ServiceCost> = units.iter().map(|u| service_cost(u, prices)).collect();
    let mut per_client: BTreeMap<String, ClientCost> = clients
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                ClientCost {
                    client: c.id.clone(),
                    own: Amount::ZERO,
                    shared_share: Amount::ZERO,
                    total: Amount::ZERO,
                },
            )
        })
        .collect();
    for s in &services {
        let n = s.clients.len() as i64;
        for c in &s.clients {
            let Some(cc) = per_client.get_mut(c) else {
                continue;
            };
            if s.key.is_shared() {
                cc.shared_share = cc.shared_share + Amount(s.monthly.ratio(1, n).cents() * 10_000);
            } else {
                cc.own = cc.own + s.monthly;
            }
        }
    }
    for cc in per_client.values_mut() {
        cc.total = cc.own + cc.shared_share;
    }
    let minimums = railway_minimum(&services, prices, railway_plan)
        .into_iter()
        .collect::<Vec<_>>();
    let total = services.iter().map(|s| s.monthly).sum::<Amount>()
        + minimums.iter().map(|m| m.top_up).sum();
    let comparisons = comparisons(&services, clients);
    Estimate {
        services,
        clients: per_client.into_values().collect(),
        minimums,
        comparisons,
        total,
    }
}

/// Railway bills the plan's price, which includes that much usage: the top-up is what the plan
/// adds to the usage, once for the workspace (clients share one account).
fn railway_minimum(
    services: &[ServiceCost],
    prices: &Prices,
    plan: Option<&str>,
) -> Option<Minimum> {
    let usage: Amount = services
        .iter()
        .filter(|s| s.platform == PlatformName::Railway)
        .map(|s| s.monthly)
        .sum();
    if !services.iter().any(|s| s.platform == PlatformName::Railway) {
        return None;
    }
    let name = plan.unwrap_or(DEFAULT_RAILWAY_PLAN);
    let p = prices.railway_plans.get(name)?;
    let overage = if usage > p.included {
        usage - p.included
    } else {
        Amount::ZERO
    };
    let bill = p.monthly + overage;
    Some(Minimum {
        platform: PlatformName::Railway,
        plan: name.to_string(),
        monthly: p.monthly,
        included: p.included,
        usage,
        top_up: bill - usage,
    })
}

fn comparisons(services: &[ServiceCost], clients: &[&Client]) -> Vec<Comparison> {
    let mut out = Vec::new();
    for c in clients {
        for s in &c.servers {
            let Some(d) = s.deployed() else { continue };
            let owner = d.owner.label();
            let mine: Vec<&ServiceCost> = services
                .iter()
                .filter(|x| x.key.owner == owner && x.key.service == s.slug)
                .filter(|x| x.clients.contains(&c.id))
                .collect();
            let Some(first) = mine.first() else { continue };
            let per_instance = first.monthly;
            match s.credential_mode {
                CredentialMode::PerUserInstance => out.push(Comparison {
                    client: c.id.clone(),
                    server: s.slug.clone(),
                    users: mine.len(),
                    mode: s.credential_mode,
                    monthly: mine.iter().map(|x| x.monthly).sum(),
                    other_mode: CredentialMode::PerUserHeader,
                    other_monthly: per_instance,
                    per_instance,
                }),
                // One multi-tenant instance now; one per listed user is the alternative.
                CredentialMode::PerUserHeader if !c.users.is_empty() => {
                    let n = first.clients.len().max(1) as i64;
                    out.push(Comparison {
                        client: c.id.clone(),
                        server: s.slug.clone(),
                        users: c.users.len(),
                        mode: s.credential_mode,
                        monthly: Amount(per_instance.ratio(1, n).cents() * 10_000),
                        other_mode: CredentialMode::PerUserInstance,
                        other_monthly: per_instance.times(c.users.len()),
                        per_instance,
                    })
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::model::ServiceKey;
    use crate::workspace::{Size, Workspace};

    fn example_client(id: &str) -> Client {
        let ws = Workspace::open(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        ws.load_client(id).unwrap()
    }

    fn unit(owner: &str, service: &str, user: Option<&str>, platform: PlatformName) -> Unit {
        Unit {
            key: ServiceKey {
                owner: owner.into(),
                service: service.into(),
                user: user.map(str::to_string),
            },
            platform,
            clients: BTreeSet::from([
                if owner == "shared" { "client-a" } else { owner }.to_string()
            ]),
            size: Size {
                cpus: 1,
                memory_mb: 256,
            },
            region: None,
            usage: None,
            stops_when_idle: true,
            librechat: false,
            dedicated_ipv4: false,
        }
    }

    #[test]
    fn client_c_three_per_user_servicedesk_instances_on_fly_cost_three_times_1_94() {
        let c = example_client("client-c");
        let units: Vec<Unit> = ["alice", "bob", "carol"]
            .iter()
            .map(|u| unit("client-c", "servicedesk-mcp", Some(u), PlatformName::Fly))
            .collect();
        let est = estimate(&units, &[&c], &Prices::resolve(None), None);
        for s in &est.services {
            assert_eq!(s.monthly.dollars(), "$1.94", "{}", s.key);
        }
        assert_eq!(est.clients[0].total.dollars(), "$5.82");
        assert_eq!(est.total.dollars(), "$5.82");
        let cmp = &est.comparisons[0];
        assert_eq!(
            (
                cmp.users,
                cmp.monthly.dollars(),
                cmp.other_monthly.dollars()
            ),
            (3, "$5.82".into(), "$1.94".into())
        );
        assert_eq!(cmp.other_mode, CredentialMode::PerUserHeader);
    }

    #[test]
    fn a_per_user_header_server_is_compared_with_one_instance_per_listed_user() {
        let mut a = example_client("client-a");
        for id in ["ann", "ben"] {
            a.users.push(crate::workspace::User {
                id: id.into(),
                name: None,
            });
        }
        let units = [unit("client-a", "custom-crm-mcp", None, PlatformName::Fly)];
        let est = estimate(&units, &[&a], &Prices::resolve(None), None);
        let cmp = &est.comparisons[0];
        assert_eq!(cmp.mode, CredentialMode::PerUserHeader);
        assert_eq!(cmp.other_mode, CredentialMode::PerUserInstance);
        assert_eq!(cmp.monthly.dollars(), "$1.94");
        assert_eq!(cmp.other_monthly.dollars(), "$3.88");
    }

    #[test]
    fn without_listed_users_a_per_user_header_server_has_nothing_to_compare() {
        let a = example_client("client-a");
        let units = [unit("client-a", "custom-crm-mcp", None, PlatformName::Fly)];
        let est = estimate(&units, &[&a], &Prices::resolve(None), None);
        assert!(est.comparisons.is_empty(), "{:?}", est.comparisons);
    }

    #[test]
    fn a_shared_server_is_split_evenly_but_counted_whole_in_the_total() {
        let (a, b) = (example_client("client-a"), example_client("client-b"));
        let mut kb = unit("shared", "knowledge-base-mcp", None, PlatformName::Fly);
        kb.clients = BTreeSet::from(["client-a".to_string(), "client-b".to_string()]);
        let est = estimate(&[kb], &[&a, &b], &Prices::resolve(None), None);
        assert_eq!(est.clients[0].shared_share.dollars(), "$0.97");
        assert_eq!(est.clients[1].shared_share.dollars(), "$0.97");
        assert_eq!(est.clients[0].own, Amount::ZERO);
        assert_eq!(est.total.dollars(), "$1.94");
    }

    #[test]
    fn the_railway_plan_minimum_is_applied_once_for_the_whole_workspace() {
        let (a, b) = (example_client("client-a"), example_client("client-b"));
        let units = [
            unit("client-a", "custom-crm-mcp", None, PlatformName::Railway),
            unit("client-b", "custom-erp-mcp", None, PlatformName::Railway),
        ];
        let est = estimate(&units, &[&a, &b], &Prices::resolve(None), None);
        // Two idle servers at $1.70 = $3.40 of usage; Hobby is $5 including $5: +$1.60, once.
        assert_eq!(est.minimums.len(), 1);
        assert_eq!(est.minimums[0].top_up.dollars(), "$1.60");
        assert_eq!(est.total.dollars(), "$5.00");
        assert_eq!(est.clients[0].total.dollars(), "$1.70");
        let pro = estimate(&units, &[&a, &b], &Prices::resolve(None), Some("pro"));
        assert_eq!(pro.total.dollars(), "$20.00");
    }

    #[test]
    fn usage_beyond_the_included_amount_is_billed_on_top_of_the_plan() {
        let c = example_client("client-b");
        let mut u = unit("client-b", "custom-erp-mcp", None, PlatformName::Railway);
        u.usage = Some(crate::workspace::prices::Usage {
            cpu: Some(Amount::parse("0.5").unwrap()),
            ..Default::default()
        });
        let est = estimate(&[u], &[&c], &Prices::resolve(None), None);
        // 0.5 × $20 + 0.15 GB × $10 = $11.50 > $5 included: no top-up.
        assert_eq!(est.minimums[0].top_up, Amount::ZERO);
        assert_eq!(est.total.dollars(), "$11.50");
    }
}
