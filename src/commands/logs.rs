//! `scalewize logs <client> <server>`: recent log lines of one service.

use std::collections::BTreeSet;

use super::session::runtime;
use super::{Ctx, Outcome};
use crate::cli::LogsArgs;
use crate::error::{Error, Result};
use crate::plan::service::{LIBRECHAT, ServiceKey};
use crate::platform::Platforms;
use crate::workspace::{CredentialMode, Owner};

pub fn run(ctx: &mut Ctx, args: LogsArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.select(std::slice::from_ref(&args.client), false, false)?;
    let client = ws
        .load_client(&args.client)
        .map_err(|ds| Error::from_diagnostics(format!("{} does not load", args.client), ds))?;
    let (key, platform) = if args.server == LIBRECHAT {
        (ServiceKey::librechat(&client.id), client.librechat.platform)
    } else {
        let server = client.server(&args.server).ok_or_else(|| {
            let known: Vec<&str> = client
                .servers
                .iter()
                .filter(|s| s.deployed().is_some())
                .map(|s| s.slug.as_str())
                .collect();
            Error::new(format!("{} deploys no server `{}`", client.id, args.server))
                .hint(format!("its deployed servers: {}", known.join(", ")))
        })?;
        let d = server.deployed().ok_or_else(|| {
            Error::new(format!(
                "`{}` is external (it has a url): scalewize does not run it",
                args.server
            ))
        })?;
        let user = match (server.credential_mode, &args.user) {
            (CredentialMode::PerUserInstance, None) => {
                return Err(
                    Error::new(format!("`{}` runs one instance per user", args.server))
                        .hint(format!("pass --user, one of: {}", server.users.join(", "))),
                );
            }
            (CredentialMode::PerUserInstance, Some(u)) => Some(u.as_str()),
            _ => None,
        };
        let owner = match &d.owner {
            Owner::Shared => Owner::Shared,
            o => o.clone(),
        };
        (ServiceKey::new(&owner, &server.slug, user), d.platform)
    };
    let platform = args.platform.get().unwrap_or(platform);
    let source = super::session::secrets(ctx, &ws)?;
    // Load this service's secrets so that the redactor below knows (and masks) their values.
    if let Ok(rendered) = crate::render::Renderer::new(&ws).render(&client)
        && let Ok(specs) = crate::plan::desired::desired(&ws, &[(&client, &rendered)], None)
    {
        for (_, r) in specs.get(&key).into_iter().flat_map(|s| s.secrets()) {
            let _ = source.value(r);
        }
    }
    let conn = super::session::connection(ctx, &source);
    let platforms = Platforms::connect(&ws, &BTreeSet::from([platform]), &conn)?;
    let lines = runtime()?.block_on(platforms.get(platform).logs(&key, args.lines))?;
    // Logs are the servers' own output: mask any secret value that shows up in them.
    for l in lines {
        ctx.ui.result(source.redact(&l));
    }
    Ok(Outcome::Done)
}
