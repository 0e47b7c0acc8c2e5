//! Teardown: which shared servers go with the clients being destroyed. A shared server lives
//! while some *deployed* client on its platform uses it — a client counts as deployed when
//! anything of it is live, and it uses a shared instance on platform P when its config enables
//! the server and the client has something live on P or P is where the server's manifest puts
//! it (so a client whose LibreChat runs elsewhere still keeps its shared server alive).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Observed, ServiceKey, ServiceSpec};
use crate::workspace::PlatformName;

/// Who may use a shared server: where its manifest puts it, and the clients that enable it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedUse {
    pub platform: PlatformName,
    pub clients: BTreeSet<String>,
}

/// Each shared server's use, from the desired services of every client (no `--platform`).
pub fn shared_uses(specs: &BTreeMap<ServiceKey, ServiceSpec>) -> BTreeMap<String, SharedUse> {
    specs
        .values()
        .filter(|s| s.key.is_shared())
        .map(|s| {
            (
                s.key.service.clone(),
                SharedUse {
                    platform: s.platform,
                    clients: s.clients.clone(),
                },
            )
        })
        .collect()
}

/// The deployed clients (sorted) that still use the live shared instance `shared` once the
/// clients in `leaving` are gone.
pub fn users_of(
    shared: &Observed,
    uses: &BTreeMap<String, SharedUse>,
    live: &[Observed],
    leaving: &BTreeSet<String>,
) -> Vec<String> {
    let Some(u) = uses.get(&shared.key.service) else {
        return Vec::new();
    };
    let live_on = |client: &str, platform: Option<PlatformName>| {
        live.iter()
            .any(|o| o.key.owner == client && platform.is_none_or(|p| o.platform == p))
    };
    u.clients
        .iter()
        .filter(|c| !leaving.contains(*c) && live_on(c, None))
        .filter(|c| u.platform == shared.platform || live_on(c, Some(shared.platform)))
        .cloned()
        .collect()
}

/// The live shared instances no remaining deployed client uses once `leaving` are gone.
pub fn unused_shared(
    uses: &BTreeMap<String, SharedUse>,
    live: &[Observed],
    leaving: &BTreeSet<String>,
) -> Vec<Observed> {
    live.iter()
        .filter(|o| o.key.is_shared() && users_of(o, uses, live, leaving).is_empty())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Fields, State};

    fn live(owner: &str, service: &str, platform: PlatformName) -> Observed {
        Observed {
            key: ServiceKey {
                owner: owner.into(),
                service: service.into(),
                user: None,
            },
            platform,
            id: format!("{owner}/{service}"),
            url: None,
            state: State::Running,
            detail: None,
            fields: Fields::new(),
        }
    }

    fn uses(platform: PlatformName, clients: &[&str]) -> BTreeMap<String, SharedUse> {
        BTreeMap::from([(
            "kb".to_string(),
            SharedUse {
                platform,
                clients: clients.iter().map(|c| c.to_string()).collect(),
            },
        )])
    }

    #[test]
    fn the_last_deployed_user_takes_the_shared_server_with_it() {
        let l = PlatformName::Local;
        let all = vec![
            live("shared", "kb", l),
            live("a", "librechat", l),
            live("b", "librechat", l),
        ];
        let u = uses(l, &["a", "b"]);
        assert!(unused_shared(&u, &all, &BTreeSet::from(["a".into()])).is_empty());
        let gone = unused_shared(&u, &all, &BTreeSet::from(["a".into(), "b".into()]));
        assert_eq!(gone.len(), 1);
    }

    #[test]
    fn a_client_that_enables_it_but_is_not_deployed_does_not_keep_it() {
        let l = PlatformName::Local;
        let all = vec![live("shared", "kb", l), live("a", "librechat", l)];
        let u = uses(l, &["a", "b"]);
        assert_eq!(
            unused_shared(&u, &all, &BTreeSet::from(["a".into()])).len(),
            1
        );
        assert_eq!(
            users_of(&all[0], &u, &all, &BTreeSet::new()),
            vec!["a".to_string()]
        );
    }

    #[test]
    fn a_deployed_client_keeps_its_shared_server_on_the_manifests_platform() {
        // b's LibreChat runs on fly; the shared server lives where its manifest says: railway.
        let all = vec![
            live("shared", "kb", PlatformName::Railway),
            live("b", "librechat", PlatformName::Fly),
        ];
        let u = uses(PlatformName::Railway, &["b"]);
        assert!(unused_shared(&u, &all, &BTreeSet::new()).is_empty());
        // A copy put on local by `--platform local` is used by nobody deployed on local.
        let all = vec![
            live("shared", "kb", PlatformName::Local),
            live("b", "librechat", PlatformName::Fly),
        ];
        assert_eq!(unused_shared(&u, &all, &BTreeSet::new()).len(), 1);
    }
}
