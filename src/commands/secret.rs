//! `scalewize secret set|rm|list|generate|rotate|reencrypt|keygen`: the encrypted store.
//! Values come from stdin (or a hidden prompt), never from argv, and are never printed:
//! reports show names, owners and fingerprints.

use std::io::Write;

use super::secret_input::read_value;
use super::{Ctx, Outcome};
use crate::cli::{
    KeygenArgs, SecretArgs, SecretClientArgs, SecretCommand, SecretListArgs, SecretNameArgs,
    SecretReencryptArgs, SecretSetArgs,
};
use crate::error::{Error, Result};
use crate::render::Listing;
use crate::secrets::{
    self, Secret, SecretRef, SecretScope, SecretStore, Source, generate, is_secret_name,
    override_var, store_path,
};
use crate::workspace::{Client, DEFAULT_CLIENT, Workspace, naming};

pub fn run(ctx: &mut Ctx, args: SecretArgs) -> Result<Outcome> {
    match args.command {
        SecretCommand::Set(a) => set(ctx, a),
        SecretCommand::Rm(a) => rm(ctx, a),
        SecretCommand::List(a) => list(ctx, a),
        SecretCommand::Generate(a) => generate_cmd(ctx, a),
        SecretCommand::Rotate(a) => rotate(ctx, a),
        SecretCommand::Reencrypt(a) => reencrypt(ctx, a),
        SecretCommand::Keygen(a) => keygen(ctx, a),
    }
}

/// The store, reporting through the command's UI.
pub fn open_store(ctx: &Ctx, ws: &Workspace) -> Result<SecretStore> {
    let mut store = SecretStore::open(ws)?;
    let warn_ui = ctx.ui.clone();
    store.on_warning(move |m| warn_ui.warn(m));
    let debug_ui = ctx.ui.clone();
    store.on_debug(move |level, m| debug_ui.debug(level, m));
    store.report_ignored_overrides();
    Ok(store)
}

/// `default` or an existing client (with a did-you-mean for typos).
fn check_store_id(ws: &Workspace, id: &str) -> Result<()> {
    if id == DEFAULT_CLIENT {
        return Ok(());
    }
    ws.select(&[id.to_string()], false, false).map(|_| ())
}

/// The reference the arguments name. Invalid names and user ids are refused without being
/// repeated (a value typed in the wrong place must not reach a terminal log).
fn target(ws: &Workspace, client: &str, user: Option<&str>, name: &str) -> Result<SecretRef> {
    check_store_id(ws, client)?;
    if !is_secret_name(name) {
        return Err(Error::new(secrets::secret_name_error()));
    }
    let scope = match (client, user) {
        (DEFAULT_CLIENT, Some(_)) => {
            return Err(Error::new("the shared store (`default`) has no per-user secrets")
                .hint("per-user secrets belong to a client: scalewize secret set <client> --user <user> NAME"));
        }
        (DEFAULT_CLIENT, None) => SecretScope::Shared,
        (c, None) => SecretScope::Client(c.to_string()),
        (c, Some(u)) => {
            if naming::check_user_id(u).is_err() {
                return Err(Error::new(
                    "invalid user id: lowercase letters, digits and `-`, starting with a letter, at most 20 characters (the id given is not repeated here)",
                ));
            }
            SecretScope::User {
                client: c.to_string(),
                user: u.to_string(),
            }
        }
    };
    Ok(SecretRef {
        name: name.to_string(),
        scope,
    })
}

/// What this run is called in the lock's holder note: validated ids and the name, never a value.
fn lock_label(verb: &str, r: &SecretRef) -> String {
    match &r.scope {
        SecretScope::Client(c) => format!("secret {verb} {c} {}", r.name),
        SecretScope::Shared => format!("secret {verb} default {}", r.name),
        SecretScope::User { client, user } => {
            format!("secret {verb} {client} --user {user} {}", r.name)
        }
    }
}

/// `MONGO_URI for client-a`, `TOKEN for client-c user alice`, `X in the shared store`.
fn describe(r: &SecretRef) -> String {
    match &r.scope {
        SecretScope::Client(c) => format!("{} for {c}", r.name),
        SecretScope::Shared => format!("{} in the shared store", r.name),
        SecretScope::User { client, user } => format!("{} for {client} user {user}", r.name),
    }
}

fn load_client(ws: &Workspace, id: &str) -> Result<Client> {
    ws.load_client(id).map_err(|ds| {
        Error::from_diagnostics(
            format!("client `{id}` has errors; fix them first (scalewize validate {id})"),
            ds,
        )
    })
}

/// The workspace key is managed by scalewize: created on first need, replaced only by `rotate`.
fn refuse_fingerprint_key(r: &SecretRef, verb: &str) -> Result<()> {
    if r.name == secrets::FINGERPRINT_KEY {
        return Err(Error::new(format!(
            "{} is the workspace's fingerprint key and cannot be {verb} by hand",
            secrets::FINGERPRINT_KEY
        ))
        .hint(format!(
            "scalewize creates it on the first write; to replace it (every fingerprint changes): scalewize secret rotate default {}",
            secrets::FINGERPRINT_KEY
        )));
    }
    Ok(())
}

/// A user namespace for someone the client does not list is probably a typo.
fn warn_if_unknown_user(ctx: &Ctx, ws: &Workspace, r: &SecretRef) {
    if let SecretScope::User { client, user } = &r.scope
        && let Ok(c) = ws.load_client(client)
        && !c.users.iter().any(|u| &u.id == user)
    {
        ctx.ui.warn(format!(
            "`{user}` is not one of {client}'s users (\"users\" in {}): no server reads this namespace yet",
            ws.relative(&c.file).display()
        ));
    }
}

fn warn_if_overridden(ctx: &Ctx, r: &SecretRef) {
    let var = override_var(r);
    if std::env::var_os(&var).is_some_and(|v| !v.is_empty()) {
        ctx.ui.warn(format!(
            "{var} is set: it overrides the stored value in every run where it is set"
        ));
    }
}

fn set(ctx: &mut Ctx, args: SecretSetArgs) -> Result<Outcome> {
    if !args.rest.is_empty() {
        return Err(Error::new(format!(
            "`secret set` takes no value on the command line ({} extra argument(s) after the name, not shown): arguments end up in shell history and process lists",
            args.rest.len()
        ))
        .hint("pipe the value in: scalewize secret set <client> NAME < value.txt (or run it on a terminal for a hidden prompt); nothing was written"));
    }
    let a = &args.target;
    let ws = ctx.workspace()?;
    let r = target(&ws, &a.client, a.user.as_deref(), &a.name)?;
    refuse_fingerprint_key(&r, "set")?;
    // Before the store is read: a concurrent writer's line must not be lost.
    let _lock = ctx.lock(&ws, &lock_label("set", &r))?;
    let store = open_store(ctx, &ws)?;
    secrets::parse_recipients(&ws.settings.recipients)?;
    store.check_identity()?;
    store.check_writable(&r)?;
    let value = read_value(&r.name)?;
    let own = store.locate_stored(&r)?.filter(|f| !f.inherited(&r));
    // A stored value that no longer decrypts (moved, damaged) is simply replaced: that is its fix.
    if own.is_some() && store.get_stored(&r).ok().flatten().as_ref() == Some(&value) {
        let fp = store.fingerprint(&r.name, &value)?;
        ctx.ui.result(format!(
            "{} unchanged: {fp}; nothing was written",
            describe(&r)
        ));
        return Ok(Outcome::Done);
    }
    let mut items = vec![(r.clone(), value.clone())];
    items.extend(store.fingerprint_key_to_create()?);
    store.set_all(&items)?;
    let fp = store.fingerprint(&r.name, &value)?;
    warn_if_unknown_user(ctx, &ws, &r);
    let verb = if own.is_some() { "updated" } else { "set" };
    ctx.ui.result(format!(
        "{} {}: {fp} ({})",
        ctx.ui.green(verb),
        describe(&r),
        store_path(&r.scope)
    ));
    if let SecretScope::Client(c) = &r.scope
        && own.is_none()
        && store
            .locate_stored(&SecretRef {
                name: r.name.clone(),
                scope: SecretScope::Shared,
            })?
            .is_some()
    {
        ctx.ui.note(format!(
            "{c}'s own value now takes precedence over the one in client-configs/default/secrets.env"
        ));
    }
    warn_if_overridden(ctx, &r);
    Ok(Outcome::Done)
}

fn rm(ctx: &mut Ctx, a: SecretNameArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let r = target(&ws, &a.client, a.user.as_deref(), &a.name)?;
    refuse_fingerprint_key(&r, "removed")?;
    let _lock = ctx.lock(&ws, &lock_label("rm", &r))?;
    let store = open_store(ctx, &ws)?;
    if store.remove(&r)? {
        ctx.ui.result(format!(
            "{} {} from {}",
            ctx.ui.red("removed"),
            describe(&r),
            store_path(&r.scope)
        ));
        if let Some(found) = store.locate(&r)? {
            ctx.ui.note(format!(
                "{} still resolves: {}",
                r.name,
                match found.source {
                    Source::Override(var) => format!("{var} is set"),
                    Source::Store => "inherited from client-configs/default/secrets.env".into(),
                }
            ));
        }
        return Ok(Outcome::Done);
    }
    let mut err = Error::new(format!(
        "{} is not in {}; nothing was removed",
        describe(&r),
        store_path(&r.scope)
    ));
    if let Some(found) = store.locate_stored(&r)?
        && found.inherited(&r)
    {
        err = err.hint(format!(
            "{a} inherits it from the shared store: scalewize secret rm default {n} removes it for every client",
            a = a.client,
            n = r.name
        ));
    } else {
        let names = store.names(&r.scope)?;
        if let Some(best) = crate::error::did_you_mean(&r.name, names.iter().map(String::as_str)) {
            err = err.hint(format!("did you mean `{best}`?"));
        }
    }
    Err(err)
}

fn list(ctx: &mut Ctx, a: SecretListArgs) -> Result<Outcome> {
    ctx.ui.json = a.json;
    let ws = ctx.workspace()?;
    check_store_id(&ws, &a.client)?;
    if let Some(u) = &a.user {
        // Validate through the same path as the other subcommands.
        target(&ws, &a.client, Some(u), "X")?;
    }
    let store = open_store(ctx, &ws)?;
    let client = if a.client == DEFAULT_CLIENT {
        None
    } else {
        match ws.load_client(&a.client) {
            Ok(c) => Some(c),
            Err(_) => {
                ctx.ui.warn(format!(
                    "client `{}` has errors (see `scalewize validate {}`): inherited values and missing secrets are not shown",
                    a.client, a.client
                ));
                None
            }
        }
    };
    let listing = crate::render::list(&store, &a.client, a.user.as_deref(), client.as_ref())
        .map_err(|e| Error {
            message: format!(
                "{} (`secret list` shows fingerprints, which need the workspace key in client-configs/default/secrets.env, so it needs the identity)",
                e.message
            ),
            ..e
        })?;
    if a.json {
        let body = super::output::SecretListOutput {
            store: a.client.clone(),
            user: a.user.clone(),
            secrets: listing.secrets.iter().map(Into::into).collect(),
            missing: listing.missing.iter().map(Into::into).collect(),
        };
        super::output::emit(&ctx.ui, "secret list", body);
        return Ok(Outcome::Done);
    }
    print_listing(ctx, &a, &listing);
    Ok(Outcome::Done)
}

fn print_listing(ctx: &Ctx, a: &SecretListArgs, listing: &Listing) {
    let ui = &ctx.ui;
    if listing.secrets.is_empty() {
        ui.result(format!(
            "no secrets for {}{}",
            a.client,
            a.user
                .as_deref()
                .map(|u| format!(" user {u}"))
                .unwrap_or_default()
        ));
    } else {
        let source = |r: &crate::render::Row| match r.source {
            "override" => format!("override ({})", r.from),
            _ => r.source.to_string(),
        };
        let w_name = listing
            .secrets
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(4);
        let w_owner = listing
            .secrets
            .iter()
            .map(|r| r.owner.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let w_fp = listing
            .secrets
            .iter()
            .map(|r| r.fingerprint.as_str().len())
            .max()
            .unwrap_or(0);
        ui.result(ui.bold(&format!(
            "{:w_name$}  {:w_owner$}  {:w_fp$}  SOURCE",
            "NAME", "OWNER", "FINGERPRINT"
        )));
        for r in &listing.secrets {
            ui.result(format!(
                "{:w_name$}  {:w_owner$}  {:w_fp$}  {}",
                r.name,
                r.owner,
                r.fingerprint.as_str(),
                source(r)
            ));
        }
    }
    for m in &listing.missing {
        ui.result(format!(
            "{} {} ({}, {}): {} < value.txt",
            ui.red("missing"),
            m.name,
            m.owner,
            m.purpose,
            m.command
        ));
    }
}

fn generatable(ws: &Workspace, id: &str) -> Result<Vec<generate::Generatable>> {
    if id == DEFAULT_CLIENT {
        generate::shared_generatable(ws)
    } else {
        Ok(generate::generatable(&load_client(ws, id)?))
    }
}

fn generate_cmd(ctx: &mut Ctx, a: SecretClientArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    check_store_id(&ws, &a.client)?;
    let _lock = ctx.lock(&ws, &format!("secret generate {}", a.client))?;
    let list = generatable(&ws, &a.client)?;
    let store = open_store(ctx, &ws)?;
    let missing = generate::missing(&store, &list)?;
    if missing.is_empty() {
        ctx.ui.result(format!(
            "nothing to generate: all {} generated secret(s) of {} exist",
            list.len(),
            a.client
        ));
        return Ok(Outcome::Done);
    }
    secrets::parse_recipients(&ws.settings.recipients)?;
    store.check_identity()?;
    let items: Vec<(SecretRef, Secret)> = missing
        .iter()
        .map(|(g, v)| (g.r.clone(), v.clone()))
        .collect();
    store.set_all(&items)?;
    for (g, v) in &missing {
        let fp = store.fingerprint(&g.r.name, v)?;
        ctx.ui.result(format!(
            "{} {}: {fp} ({}, {})",
            ctx.ui.green("generated"),
            describe(&g.r),
            g.purpose,
            store_path(&g.r.scope)
        ));
    }
    Ok(Outcome::Done)
}

fn rotate(ctx: &mut Ctx, a: SecretNameArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let r = target(&ws, &a.client, a.user.as_deref(), &a.name)?;
    let list = generatable(&ws, &a.client)?;
    let g = generate::find(&list, &r)?;
    secrets::parse_recipients(&ws.settings.recipients)?;
    let _lock = ctx.lock(&ws, &lock_label("rotate", &r))?;
    let store = open_store(ctx, &ws)?;
    store.check_identity()?;
    store.check_writable(&r)?;
    let old = store.get_stored(&r)?;
    let old_fp = match &old {
        Some(v) if r.name != secrets::FINGERPRINT_KEY => {
            Some(store.fingerprint(&r.name, v)?.to_string())
        }
        _ => None,
    };
    let value = g.new_value();
    let mut items = vec![(r.clone(), value.clone())];
    if r.name != secrets::FINGERPRINT_KEY {
        items.extend(store.fingerprint_key_to_create()?);
    }
    store.set_all(&items)?;
    let new_fp = store.fingerprint(&r.name, &value)?;
    ctx.ui.result(format!(
        "{} {}: {} → {new_fp} ({})",
        ctx.ui.yellow("rotated"),
        describe(&r),
        old_fp.as_deref().unwrap_or("(none)"),
        store_path(&r.scope)
    ));
    if r.name == secrets::FINGERPRINT_KEY {
        ctx.ui.note("every fingerprint changed: the next deploy sees every secret as changed and updates it on its platform");
    } else {
        ctx.ui.note(format!(
            "the new value reaches its service on the next deploy of {}",
            if a.client == DEFAULT_CLIENT {
                "every client using it".to_string()
            } else {
                a.client.clone()
            }
        ));
    }
    warn_if_overridden(ctx, &r);
    Ok(Outcome::Done)
}

fn reencrypt(ctx: &mut Ctx, a: SecretReencryptArgs) -> Result<Outcome> {
    let ws = ctx.workspace()?;
    let mut ids = if a.clients.is_empty() {
        let mut v = vec![DEFAULT_CLIENT.to_string()];
        v.extend(ws.client_ids()?);
        v
    } else {
        for c in &a.clients {
            check_store_id(&ws, c)?;
        }
        a.clients.clone()
    };
    ids.dedup();
    secrets::parse_recipients(&ws.settings.recipients)?;
    let _lock = ctx.lock(&ws, "secret reencrypt")?;
    let store = open_store(ctx, &ws)?;
    // Decrypt everything first: one value that cannot be decrypted leaves every file unchanged.
    let mut staged = Vec::new();
    for id in &ids {
        if let Some(s) = store.stage_reencrypt(id)? {
            staged.push(s);
        }
    }
    let n = staged.len();
    for p in store.commit(staged)? {
        ctx.ui.say(format!(
            "{} {}",
            ctx.ui.yellow("re-encrypted"),
            ws.relative(&p).display()
        ));
    }
    ctx.ui.result(format!(
        "re-encrypted {n} store(s) to {} recipient(s)",
        ws.settings.recipients.len()
    ));
    Ok(Outcome::Done)
}

fn keygen(ctx: &mut Ctx, a: KeygenArgs) -> Result<Outcome> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = &a.out;
    if path.exists() {
        return Err(Error::new(format!(
            "{} already exists; refusing to overwrite an identity",
            path.display()
        ))
        .hint("choose another --out path"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    let (identity, public) = secrets::keygen();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    f.write_all(identity.expose().as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io("write", path, e))?;
    ctx.ui.result(&public);
    ctx.ui.note(format!(
        "wrote the identity (secret key) to {} (mode 0600). Next:\n  1. add \"{public}\" to \"recipients\" in scalewize.json\n  2. export SCALEWIZE_AGE_KEY_FILE={} (in CI: SCALEWIZE_AGE_KEY=<the AGE-SECRET-KEY-1… line>)\n  3. if the store already holds values, someone who can decrypt them runs: scalewize secret reencrypt",
        path.display(),
        path.display()
    ));
    if let Some(exposure) = secrets::git_exposure(path) {
        ctx.ui.warn(format!(
            "{} is inside a git repository and {}: add it to .gitignore or move it out",
            path.display(),
            match exposure {
                secrets::GitExposure::Tracked => "tracked",
                secrets::GitExposure::NotIgnored => "not ignored",
            }
        ));
    }
    Ok(Outcome::Done)
}
