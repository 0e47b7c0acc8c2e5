//! Rollouts in waves: which clients of a plan go in which wave. Shared servers form a wave of
//! their own before the first; then the clients with changes, canaries first (in their listed
//! order) and the rest by id, are cut at cumulative sizes (`1`, `10%`, `100%`). The last wave
//! always takes whoever is left, so no client is dropped.

use serde::{Deserialize, Serialize};

use super::{Action, Plan};
use crate::error::{Error, Result};
use crate::model::SHARED_OWNER;

/// One cut: a client count or a share of the clients with changes (cumulative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaveSize {
    Count(usize),
    Percent(f64),
}

/// `"1,10%,100%"` (or the same as a list from `rollout.waves`).
pub fn parse_sizes(items: &[String]) -> Result<Vec<WaveSize>> {
    let bad = |s: &str| {
        Error::new(format!("wave size {s:?} is neither a client count nor a percentage"))
            .hint("write waves as cumulative sizes, e.g. --waves 1,10%,100% (one canary, then up to a tenth, then everyone)")
    };
    let mut out = Vec::new();
    for raw in items.iter().flat_map(|s| s.split(',')) {
        let s = raw.trim();
        let size = match s.strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 100.0 => WaveSize::Percent(v),
                _ => return Err(bad(s)),
            },
            None => match s.parse::<usize>() {
                Ok(n) if n > 0 => WaveSize::Count(n),
                _ => return Err(bad(s)),
            },
        };
        out.push(size);
    }
    if out.is_empty() {
        return Err(bad(""));
    }
    Ok(out)
}

/// One wave: its clients (empty for the shared wave) and its actions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Wave {
    pub name: String,
    pub clients: Vec<String>,
    #[serde(skip)]
    pub actions: Vec<Action>,
}

/// Cut `plan` into waves.
pub fn waves(plan: &Plan, canary: &[String], sizes: &[WaveSize]) -> Vec<Wave> {
    let shared: Vec<Action> = plan
        .actions
        .iter()
        .filter(|a| a.key.owner == SHARED_OWNER)
        .cloned()
        .collect();
    let mut changed: Vec<String> = plan
        .actions
        .iter()
        .filter(|a| a.key.owner != SHARED_OWNER)
        .map(|a| a.key.owner.clone())
        .collect();
    changed.sort();
    changed.dedup();
    let mut order: Vec<String> = canary
        .iter()
        .filter(|c| changed.contains(c))
        .cloned()
        .collect();
    order.extend(changed.iter().filter(|c| !canary.contains(c)).cloned());

    let mut out = Vec::new();
    if !shared.is_empty() {
        out.push(Wave {
            name: "shared".into(),
            clients: Vec::new(),
            actions: shared,
        });
    }
    let total = order.len();
    let mut taken = 0;
    // The canaries always make the first wave, whatever its size says.
    let canaries = order.iter().filter(|c| canary.contains(c)).count();
    for (i, size) in sizes.iter().enumerate() {
        if taken >= total {
            break;
        }
        let mut upto = match size {
            WaveSize::Count(n) => *n,
            WaveSize::Percent(p) => ((total as f64) * p / 100.0).ceil() as usize,
        }
        .clamp(1, total);
        if i == 0 {
            upto = upto.max(canaries);
        }
        if i + 1 == sizes.len() {
            upto = total;
        }
        if upto <= taken {
            continue;
        }
        let clients: Vec<String> = order[taken..upto].to_vec();
        taken = upto;
        let actions = plan
            .actions
            .iter()
            .filter(|a| clients.contains(&a.key.owner))
            .cloned()
            .collect();
        out.push(Wave {
            name: format!(
                "wave {}",
                out.iter().filter(|w| !w.clients.is_empty()).count() + 1
            ),
            clients,
            actions,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Op, ServiceKey};
    use crate::workspace::PlatformName;

    fn plan(owners: &[&str]) -> Plan {
        Plan {
            version: 1,
            clients: Vec::new(),
            platform_override: None,
            actions: owners
                .iter()
                .map(|o| Action {
                    key: ServiceKey {
                        owner: o.to_string(),
                        service: "x-mcp".into(),
                        user: None,
                    },
                    platform: PlatformName::Local,
                    op: Op::Update,
                    clients: vec![o.to_string()],
                    changes: Vec::new(),
                })
                .collect(),
            unchanged: Vec::new(),
            inputs_digest: String::new(),
            observed_digest: String::new(),
            waves: None,
        }
    }

    fn names(w: &[Wave]) -> Vec<(String, Vec<String>)> {
        w.iter()
            .map(|w| (w.name.clone(), w.clients.clone()))
            .collect()
    }

    #[test]
    fn shared_servers_go_first_then_the_canary_then_the_rest_by_id() {
        let p = plan(&["shared", "c", "a", "b"]);
        let sizes = parse_sizes(&["1,100%".into()]).unwrap();
        let w = waves(&p, &["c".into()], &sizes);
        assert_eq!(
            names(&w),
            [
                ("shared".into(), vec![]),
                ("wave 1".into(), vec!["c".to_string()]),
                ("wave 2".into(), vec!["a".to_string(), "b".to_string()]),
            ]
        );
    }

    #[test]
    fn percentages_are_cumulative_and_the_last_wave_takes_everyone_left() {
        let owners: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
        let refs: Vec<&str> = owners.iter().map(String::as_str).collect();
        let sizes = parse_sizes(&["1".into(), "10%".into(), "50%".into()]).unwrap();
        let w = waves(&plan(&refs), &[], &sizes);
        let counts: Vec<usize> = w.iter().map(|w| w.clients.len()).collect();
        assert_eq!(counts, [1, 1, 18]);
    }

    #[test]
    fn a_malformed_size_is_a_clear_error() {
        for bad in ["0", "abc", "150%", "-1"] {
            let e = parse_sizes(&[bad.into()]).unwrap_err();
            assert!(e.message.contains(bad), "{}", e.message);
        }
    }
}
