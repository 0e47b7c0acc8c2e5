//! What one service costs a month on its platform: pure arithmetic over a `Unit` (a desired
//! `ServiceSpec`, or a live service with the size it reports) and the prices.

use std::collections::BTreeSet;

use serde::Serialize;

use super::prices::Prices;
use crate::model::{Observed, ServiceKey, ServiceSpec, size_field};
use crate::workspace::prices::{Amount, Usage};
use crate::workspace::{PlatformName, Size};

/// What the cost of a service depends on, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub key: ServiceKey,
    pub platform: PlatformName,
    pub clients: BTreeSet<String>,
    pub size: Size,
    pub region: Option<String>,
    pub usage: Option<Usage>,
    /// Stops when idle where the platform can (Fly autostop): billed while running only.
    pub stops_when_idle: bool,
    pub librechat: bool,
    /// A dedicated IPv4 address (scalewize assigns only Fly's free shared IPv4 today).
    pub dedicated_ipv4: bool,
}

impl Unit {
    pub fn of(spec: &ServiceSpec) -> Unit {
        Unit {
            key: spec.key.clone(),
            platform: spec.platform,
            clients: spec.clients.clone(),
            size: spec.size,
            region: spec.region.clone(),
            usage: spec.usage,
            stops_when_idle: spec.stops_when_idle(),
            librechat: spec.key.is_librechat(),
            dedicated_ipv4: false,
        }
    }

    /// A live service as it is billed now: its reported size (else the desired one), and the
    /// desired spec's usage and clients when it is still described.
    pub fn observed(o: &Observed, desired: Option<&ServiceSpec>) -> Unit {
        let size = o
            .fields
            .get("size")
            .and_then(|s| parse_size(s))
            .or(desired.map(|d| d.size))
            .unwrap_or(crate::workspace::DEFAULT_SIZE);
        let librechat = o.key.is_librechat();
        Unit {
            key: o.key.clone(),
            platform: o.platform,
            clients: match desired {
                Some(d) => d.clients.clone(),
                None if o.key.is_shared() => BTreeSet::new(),
                None => BTreeSet::from([o.key.owner.clone()]),
            },
            size,
            region: o
                .fields
                .get("region")
                .cloned()
                .or_else(|| desired.and_then(|d| d.region.clone())),
            usage: desired.and_then(|d| d.usage),
            stops_when_idle: o.key.stops_when_idle(),
            librechat,
            dedicated_ipv4: false,
        }
    }
}

/// The inverse of `model::size_field` (`1 cpu, 256 MB`).
fn parse_size(s: &str) -> Option<Size> {
    let (cpu, mem) = s.split_once(" cpu, ")?;
    let size = Size {
        cpus: cpu.trim().parse().ok()?,
        memory_mb: mem.trim().strip_suffix(" MB")?.parse().ok()?,
    };
    (size_field(size.cpus, size.memory_mb) == s).then_some(size)
}

/// One term of a service's monthly cost, said in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    pub what: String,
    pub usd: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCost {
    pub key: ServiceKey,
    pub platform: PlatformName,
    pub clients: Vec<String>,
    /// Per month, rounded to the cent (so that every sum shown adds up).
    pub monthly: Amount,
    /// Railway: at the size limits (the most it can cost).
    pub worst_case: Option<Amount>,
    pub terms: Vec<Term>,
}

fn to_cents(a: Amount) -> Amount {
    Amount(a.cents() * 10_000)
}

fn gb_of(mb: u32) -> Amount {
    // Decimal GB, as the providers' worked examples use (150 MB = 0.15 GB).
    Amount::from_int(i64::from(mb)).ratio(1, 1000)
}

/// A Fly machine's monthly price while running: its preset, else one 256 MB preset per CPU plus
/// the extra memory.
pub fn fly_machine(size: Size, p: &Prices) -> (Amount, String) {
    let label = format!("shared-cpu-{}x {} MB", size.cpus, size.memory_mb);
    if let Some(price) = p.fly_presets.get(&(size.cpus, size.memory_mb)) {
        return (*price, label);
    }
    let base = p.fly_presets.get(&(1, 256)).copied().unwrap_or_default();
    let extra_mb = i64::from(size.memory_mb) - 256 * i64::from(size.cpus);
    let extra = p.fly_extra_memory_gb.ratio(extra_mb.max(0), 1024);
    (
        base.times(size.cpus as usize) + extra,
        format!(
            "{label} (no preset: {} × 256 MB preset + extra memory)",
            size.cpus
        ),
    )
}

pub fn service_cost(u: &Unit, p: &Prices) -> ServiceCost {
    let mut terms = Vec::new();
    let mut worst_case = None;
    match u.platform {
        PlatformName::Local => terms.push(Term {
            what: "local: runs on this machine, $0".into(),
            usd: Amount::ZERO,
        }),
        PlatformName::Fly => {
            let (machine, mut label) = fly_machine(u.size, p);
            let markup = u
                .region
                .as_ref()
                .and_then(|r| p.fly_region_multipliers.get(r).map(|m| (r, *m)));
            let machine = match markup {
                Some((region, m)) => {
                    label = format!("{label} in {region} (× {m})");
                    machine * m
                }
                None => machine,
            };
            let af = if u.stops_when_idle {
                u.usage
                    .and_then(|x| x.active_fraction)
                    .map_or(p.active_fraction, |f| f.0)
            } else {
                Amount::ONE
            };
            let pct = af.ratio(100, 1).decimal();
            terms.push(Term {
                what: format!("{label} running {pct}% of the month"),
                usd: machine * af,
            });
            if af < Amount::ONE {
                let rootfs = u.usage.and_then(|x| x.rootfs_mb).unwrap_or(p.rootfs_mb);
                terms.push(Term {
                    what: format!("stopped the rest: {rootfs} MB rootfs"),
                    usd: p.fly_stopped_rootfs_gb
                        * markup.map_or(Amount::ONE, |(_, m)| m)
                        * gb_of(rootfs)
                        * (Amount::ONE - af),
                });
            }
            if u.dedicated_ipv4 {
                terms.push(Term {
                    what: "dedicated IPv4".into(),
                    usd: p.fly_dedicated_ipv4,
                });
            }
        }
        PlatformName::Railway => {
            let (idle_cpu, idle_mem) = if u.librechat {
                (p.librechat_cpu, p.librechat_memory_mb)
            } else {
                (p.idle_cpu, p.idle_memory_mb)
            };
            let stated = |f: fn(&Usage) -> bool| u.usage.as_ref().is_some_and(f);
            let cpu = u.usage.and_then(|x| x.cpu).unwrap_or(idle_cpu);
            let mem = u.usage.and_then(|x| x.memory_mb).unwrap_or(idle_mem);
            let why = |given: bool| if given { "usage" } else { "assumed idle" };
            terms.push(Term {
                what: format!("{cpu} vCPU ({})", why(stated(|x| x.cpu.is_some()))),
                usd: p.railway_vcpu * cpu,
            });
            terms.push(Term {
                what: format!(
                    "{mem} MB memory ({})",
                    why(stated(|x| x.memory_mb.is_some()))
                ),
                usd: p.railway_memory_gb * gb_of(mem),
            });
            worst_case = Some(to_cents(
                p.railway_vcpu * Amount::from_int(i64::from(u.size.cpus))
                    + p.railway_memory_gb * gb_of(u.size.memory_mb),
            ));
        }
    }
    ServiceCost {
        key: u.key.clone(),
        platform: u.platform,
        clients: u.clients.iter().cloned().collect(),
        monthly: to_cents(terms.iter().map(|t| t.usd).sum()),
        worst_case,
        terms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::prices::Fraction;

    fn unit(platform: PlatformName, cpus: u32, memory_mb: u32) -> Unit {
        Unit {
            key: ServiceKey {
                owner: "client-c".into(),
                service: "servicedesk-mcp".into(),
                user: Some("alice".into()),
            },
            platform,
            clients: BTreeSet::from(["client-c".to_string()]),
            size: Size { cpus, memory_mb },
            region: None,
            usage: None,
            stops_when_idle: true,
            librechat: false,
            dedicated_ipv4: false,
        }
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    #[test]
    fn a_fly_machine_always_on_costs_its_preset() {
        let c = service_cost(&unit(PlatformName::Fly, 1, 256), &Prices::resolve(None));
        assert_eq!(c.monthly.dollars(), "$1.94");
    }

    #[test]
    fn a_fly_size_without_preset_is_cpus_times_the_base_preset_plus_extra_memory() {
        // Seed 000 priced shared-cpu-2x at $3.88: two 256 MB presets.
        let c = service_cost(&unit(PlatformName::Fly, 2, 512), &Prices::resolve(None));
        assert_eq!(c.monthly.dollars(), "$3.88");
        let c = service_cost(&unit(PlatformName::Fly, 1, 768), &Prices::resolve(None));
        assert_eq!(c.monthly.dollars(), "$4.44"); // 1.94 + 0.5 GB × $5
    }

    #[test]
    fn autostop_bills_the_active_share_running_and_the_rest_at_the_rootfs_price() {
        let mut u = unit(PlatformName::Fly, 1, 256);
        u.usage = Some(Usage {
            active_fraction: Some(Fraction(amount("0.2"))),
            ..Usage::default()
        });
        let c = service_cost(&u, &Prices::resolve(None));
        // 0.2 × 1.94 = 0.388; 0.8 × 0.2 GB × 0.15 = 0.024; 0.412 → $0.41
        assert_eq!(c.terms[0].usd, amount("0.388"));
        assert_eq!(c.terms[1].usd, amount("0.024"));
        assert_eq!(c.monthly.dollars(), "$0.41");
    }

    #[test]
    fn a_region_multiplier_scales_the_machine_price_in_that_region_only() {
        let mut p = Prices::resolve(None);
        p.fly_region_multipliers.insert("gru".into(), amount("1.5"));
        let mut u = unit(PlatformName::Fly, 1, 256);
        u.region = Some("gru".into());
        assert_eq!(service_cost(&u, &p).monthly.dollars(), "$2.91");
        u.region = Some("iad".into());
        assert_eq!(service_cost(&u, &p).monthly.dollars(), "$1.94");
    }

    #[test]
    fn a_dedicated_ipv4_adds_its_monthly_price() {
        let mut u = unit(PlatformName::Fly, 1, 256);
        u.dedicated_ipv4 = true;
        assert_eq!(
            service_cost(&u, &Prices::resolve(None)).monthly.dollars(),
            "$3.94"
        );
    }

    #[test]
    fn librechat_on_fly_never_stops_so_usage_does_not_discount_it() {
        let mut u = unit(PlatformName::Fly, 1, 1024);
        u.stops_when_idle = false;
        u.librechat = true;
        u.usage = Some(Usage {
            active_fraction: Some(Fraction(amount("0.1"))),
            ..Usage::default()
        });
        assert_eq!(
            service_cost(&u, &Prices::resolve(None)).monthly.dollars(),
            "$5.70"
        );
    }

    #[test]
    fn railway_without_usage_uses_the_idle_figures_with_the_size_limit_beside_it() {
        let c = service_cost(&unit(PlatformName::Railway, 1, 256), &Prices::resolve(None));
        // pricing.md's worked example: 0.15 GB × $10 + 0.01 vCPU × $20 ≈ $1.70
        assert_eq!(c.monthly.dollars(), "$1.70");
        assert!(c.terms[0].what.contains("assumed idle"), "{:?}", c.terms);
        assert_eq!(c.worst_case.unwrap().dollars(), "$22.56");
    }

    #[test]
    fn railway_with_usage_bills_the_stated_cpu_and_memory() {
        let mut u = unit(PlatformName::Railway, 1, 512);
        u.usage = Some(Usage {
            cpu: Some(amount("0.1")),
            memory_mb: Some(300),
            ..Usage::default()
        });
        let c = service_cost(&u, &Prices::resolve(None));
        assert_eq!(c.monthly.dollars(), "$5.00"); // 0.1 × 20 + 0.3 × 10
    }

    #[test]
    fn local_costs_nothing_and_says_so() {
        let c = service_cost(&unit(PlatformName::Local, 1, 256), &Prices::resolve(None));
        assert_eq!(c.monthly, Amount::ZERO);
        assert!(c.terms[0].what.contains("this machine"));
    }

    #[test]
    fn a_reported_size_reads_back_from_its_field() {
        assert_eq!(
            parse_size(&size_field(2, 512)),
            Some(Size {
                cpus: 2,
                memory_mb: 512
            })
        );
        assert_eq!(parse_size("two cpus"), None);
    }
}
