//! Desired state: every service the selected clients need, from the workspace model and the
//! rendered files. Shared servers appear once, with every client that uses them.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Diagnostic, Diagnostics, Location};
use crate::model::{
    LIBRECHAT_CONFIG_PATH, LocalRun, RepoSource, ServiceKey, ServiceKind, ServiceSpec, SpecValue,
};
use crate::platform::check_spec;
use crate::render::{EnvValue, Rendered};
use crate::secrets::{SecretRef, SecretScope};
use crate::workspace::{
    Client, CredentialMode, Owner, PlatformName, ServerSource, Size, Workspace, naming,
};

pub const LIBRECHAT_PORT: u16 = 3080;
pub const LIBRECHAT_SIZE: Size = Size {
    cpus: 1,
    memory_mb: 1024,
};

fn token_ref(owner: &Owner, slug: &str, user: Option<&str>) -> SecretRef {
    SecretRef::new(naming::token_var(slug), SecretScope::of(owner, user))
}

/// Every service of `clients`, keyed; `platform` (from `--platform`) overrides every service's platform.
pub fn desired(
    ws: &Workspace,
    clients: &[(&Client, &Rendered)],
    platform: Option<PlatformName>,
) -> Result<BTreeMap<ServiceKey, ServiceSpec>, Diagnostics> {
    let mut out: BTreeMap<ServiceKey, ServiceSpec> = BTreeMap::new();
    let mut diags = Diagnostics::default();
    for (client, rendered) in clients {
        for s in &client.servers {
            let ServerSource::Deployed(d) = &s.source else {
                continue;
            };
            let users: Vec<Option<&str>> = if s.credential_mode == CredentialMode::PerUserInstance {
                s.users.iter().map(|u| Some(u.as_str())).collect()
            } else {
                vec![None]
            };
            for user in users {
                let key = ServiceKey::new(&d.owner, &s.slug, user);
                if let Some(existing) = out.get_mut(&key) {
                    existing.clients.insert(client.id.clone());
                    continue;
                }
                let mut env: BTreeMap<String, SpecValue> = d
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), SpecValue::Plain { value: v.clone() }))
                    .collect();
                env.insert(
                    "MCP_SERVER_NAME".into(),
                    SpecValue::Plain {
                        value: key.name_in_project(),
                    },
                );
                env.insert(
                    "MCP_ACCESS_TOKEN".into(),
                    SpecValue::Secret(token_ref(&d.owner, &s.slug, user)),
                );
                // The client's tool filter, enforced by the server itself (server contract).
                if let Some(rule) = &s.tools {
                    let (name, value) = rule.env();
                    env.insert(name.into(), SpecValue::Plain { value });
                }
                for name in &d.secrets {
                    let scope = SecretScope::of(&d.owner, user);
                    env.insert(
                        name.clone(),
                        SpecValue::Secret(SecretRef {
                            name: name.clone(),
                            scope,
                        }),
                    );
                }
                let spec_platform = platform.unwrap_or(d.platform);
                let spec = ServiceSpec {
                    key: key.clone(),
                    kind: ServiceKind::Mcp,
                    platform: spec_platform,
                    clients: BTreeSet::from([client.id.clone()]),
                    image: d.image.clone(),
                    repo: d.railway.as_ref().map(|r| RepoSource {
                        repo: r.repo.clone(),
                        branch: r.branch.clone(),
                        root_dir: ws.relative(&d.folder).display().to_string(),
                        commit: None,
                    }),
                    local: d.run.as_ref().map(|run| LocalRun {
                        run: run.clone(),
                        folder: d.folder.clone(),
                    }),
                    port: d.port,
                    path: d.path.clone(),
                    health_path: d.health_path.clone(),
                    region: d.region.clone(),
                    size: d.size,
                    env,
                    files: BTreeMap::new(),
                    depends_on: BTreeSet::new(),
                    usage: d.usage,
                };
                if let Err(u) = check_spec(&spec) {
                    diags.push(
                        Diagnostic::error(Location::file(&d.manifest_path).at(u.field), u.problem)
                            .hint(u.hint),
                    );
                }
                out.insert(key, spec);
            }
        }
        let lc = &client.librechat;
        let key = ServiceKey::librechat(&client.id);
        let mut env = BTreeMap::new();
        let mut depends_on = BTreeSet::new();
        for e in rendered.env.entries() {
            let v = match &e.value {
                EnvValue::Static { value } => SpecValue::Plain {
                    value: value.clone(),
                },
                EnvValue::Secret(r) => SpecValue::Secret(r.clone()),
                EnvValue::LibreChatUrl => SpecValue::OwnUrl,
                EnvValue::ServiceUrl { server, owner } => {
                    let owner = if owner == crate::model::SHARED_OWNER {
                        Owner::Shared
                    } else {
                        Owner::Client(owner.clone())
                    };
                    let dep = ServiceKey::new(&owner, server, None);
                    depends_on.insert(dep.clone());
                    SpecValue::UrlOf { service: dep }
                }
            };
            env.insert(e.name.clone(), v);
        }
        let spec = ServiceSpec {
            key: key.clone(),
            kind: ServiceKind::LibreChat,
            platform: platform.unwrap_or(lc.platform),
            clients: BTreeSet::from([client.id.clone()]),
            image: lc.image.clone(),
            repo: None,
            local: None,
            port: LIBRECHAT_PORT,
            path: "/".into(),
            health_path: "/health".into(),
            region: lc.region.clone(),
            size: lc.size.unwrap_or(LIBRECHAT_SIZE),
            env,
            files: BTreeMap::from([(
                LIBRECHAT_CONFIG_PATH.to_string(),
                rendered.librechat_yaml().to_string(),
            )]),
            depends_on,
            usage: None,
        };
        if let Err(u) = check_spec(&spec) {
            diags.push(Diagnostic::error(Location::file(&client.file).at("librechat.image"), u.problem).hint(
                "pin LibreChat's image in mcp-servers.json (or default's): \"librechat\": {\"image\": \"ghcr.io/danny-avila/librechat:v0.8.1\"}",
            ));
        }
        out.insert(key, spec);
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(out)
}
