//! The prices in force: the file shipped in the binary, with the workspace's override laid over
//! it figure by figure. Every figure used keeps its source and date for the report.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::workspace::PriceOverride;
use crate::workspace::prices::{Amount, Figure, PriceFile, RailwayPlan};

/// The price file shipped with scalewize (facts and sources: `reference/notes/pricing.md`).
pub const BUILTIN: &str = include_str!("prices.json");

/// The Railway plan assumed when `scalewize.json` names none (`railway.plan`).
pub const DEFAULT_RAILWAY_PLAN: &str = "hobby";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanPrice {
    pub monthly: Amount,
    pub included: Amount,
}

/// Every figure the cost model needs, all present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prices {
    pub date: String,
    pub source: String,
    /// The workspace file that overrode some figures, if any.
    pub overridden_by: Option<PathBuf>,
    /// (cpus, memory_mb) → per month while running.
    pub fly_presets: BTreeMap<(u32, u32), Amount>,
    pub fly_extra_memory_gb: Amount,
    pub fly_stopped_rootfs_gb: Amount,
    pub fly_dedicated_ipv4: Amount,
    /// Fly region → multiple of the prices (absent: 1).
    pub fly_region_multipliers: BTreeMap<String, Amount>,
    pub railway_vcpu: Amount,
    pub railway_memory_gb: Amount,
    pub railway_plans: BTreeMap<String, PlanPrice>,
    pub idle_cpu: Amount,
    pub idle_memory_mb: u32,
    pub active_fraction: Amount,
    pub rootfs_mb: u32,
    pub librechat_cpu: Amount,
    pub librechat_memory_mb: u32,
}

fn builtin_file() -> PriceFile {
    serde_json::from_str(BUILTIN).expect("the shipped prices.json parses (tested)")
}

fn pick(over: Option<&Figure>, base: Option<&Figure>, what: &str) -> Amount {
    over.or(base)
        .unwrap_or_else(|| panic!("the shipped prices.json has {what} (tested)"))
        .usd
}

impl Prices {
    /// The shipped prices, with `over` (the workspace's) laid over them.
    pub fn resolve(over: Option<&PriceOverride>) -> Prices {
        let base = builtin_file();
        let empty = PriceFile::default();
        let o = over.map_or(&empty, |o| &o.prices);
        let (bf, of) = (
            base.fly.clone().unwrap_or_default(),
            o.fly.clone().unwrap_or_default(),
        );
        let (br, or) = (
            base.railway.clone().unwrap_or_default(),
            o.railway.clone().unwrap_or_default(),
        );
        let (ba, oa) = (
            base.assumptions.clone().unwrap_or_default(),
            o.assumptions.clone().unwrap_or_default(),
        );
        let mut fly_presets = BTreeMap::new();
        for p in bf
            .presets
            .iter()
            .flatten()
            .chain(of.presets.iter().flatten())
        {
            fly_presets.insert((p.cpus, p.memory_mb), p.usd);
        }
        let mut fly_region_multipliers = bf.region_multipliers.clone().unwrap_or_default();
        fly_region_multipliers.extend(of.region_multipliers.clone().unwrap_or_default());
        let mut plans: BTreeMap<String, RailwayPlan> = br.plans.clone().unwrap_or_default();
        plans.extend(or.plans.clone().unwrap_or_default());
        let source = base.source.clone().unwrap_or_default();
        let source = match (over, &o.source) {
            (Some(_), Some(s)) => s.clone(),
            (Some(ov), None) => format!("{source}; overridden by {}", ov.file.display()),
            (None, _) => source,
        };
        const MSG: &str = "the shipped prices.json has every assumption (tested)";
        Prices {
            date: o.date.clone().or(base.date.clone()).unwrap_or_default(),
            source,
            overridden_by: over.map(|o| o.file.clone()),
            fly_presets,
            fly_extra_memory_gb: pick(
                of.extra_memory_gb.as_ref(),
                bf.extra_memory_gb.as_ref(),
                "fly.extra_memory_gb",
            ),
            fly_stopped_rootfs_gb: pick(
                of.stopped_rootfs_gb.as_ref(),
                bf.stopped_rootfs_gb.as_ref(),
                "fly.stopped_rootfs_gb",
            ),
            fly_dedicated_ipv4: pick(
                of.dedicated_ipv4.as_ref(),
                bf.dedicated_ipv4.as_ref(),
                "fly.dedicated_ipv4",
            ),
            fly_region_multipliers,
            railway_vcpu: pick(or.vcpu.as_ref(), br.vcpu.as_ref(), "railway.vcpu"),
            railway_memory_gb: pick(
                or.memory_gb.as_ref(),
                br.memory_gb.as_ref(),
                "railway.memory_gb",
            ),
            railway_plans: plans
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        PlanPrice {
                            monthly: v.monthly.usd,
                            included: v.included.usd,
                        },
                    )
                })
                .collect(),
            idle_cpu: oa.idle_cpu.or(ba.idle_cpu).expect(MSG),
            idle_memory_mb: oa.idle_memory_mb.or(ba.idle_memory_mb).expect(MSG),
            active_fraction: oa.active_fraction.or(ba.active_fraction).expect(MSG).0,
            rootfs_mb: oa.rootfs_mb.or(ba.rootfs_mb).expect(MSG),
            librechat_cpu: oa.librechat_cpu.or(ba.librechat_cpu).expect(MSG),
            librechat_memory_mb: oa
                .librechat_memory_mb
                .or(ba.librechat_memory_mb)
                .expect(MSG),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::prices::FlyPrices;

    #[test]
    fn the_shipped_price_file_is_complete_and_every_figure_is_sourced_and_dated() {
        let p = Prices::resolve(None);
        assert_eq!(p.date, "2026-08-07");
        assert_eq!(p.fly_presets[&(1, 256)].dollars(), "$1.94");
        assert_eq!(p.railway_plans["hobby"].monthly.dollars(), "$5.00");
        let f = builtin_file();
        let fly = f.fly.unwrap();
        let rw = f.railway.unwrap();
        let mut figures: Vec<&Figure> = vec![
            fly.extra_memory_gb.as_ref().unwrap(),
            fly.stopped_rootfs_gb.as_ref().unwrap(),
            fly.dedicated_ipv4.as_ref().unwrap(),
            rw.vcpu.as_ref().unwrap(),
            rw.memory_gb.as_ref().unwrap(),
        ];
        for plan in rw.plans.as_ref().unwrap().values() {
            figures.push(&plan.monthly);
            figures.push(&plan.included);
        }
        for fig in figures {
            assert!(fig.source.is_some() && fig.date.is_some(), "{fig:?}");
        }
        for preset in fly.presets.unwrap() {
            assert!(
                preset.source.is_some() && preset.date.is_some(),
                "{preset:?}"
            );
        }
    }

    #[test]
    fn an_override_replaces_only_the_figures_it_states() {
        let over = PriceOverride {
            file: PathBuf::from("scalewize.json"),
            prices: PriceFile {
                fly: Some(FlyPrices {
                    dedicated_ipv4: Some(Figure {
                        usd: Amount::parse("3").unwrap(),
                        source: None,
                        date: None,
                    }),
                    ..FlyPrices::default()
                }),
                ..PriceFile::default()
            },
        };
        let p = Prices::resolve(Some(&over));
        assert_eq!(p.fly_dedicated_ipv4.dollars(), "$3.00");
        assert_eq!(p.fly_presets[&(1, 256)].dollars(), "$1.94");
        assert!(
            p.source.ends_with("overridden by scalewize.json"),
            "{}",
            p.source
        );
    }
}
