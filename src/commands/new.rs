//! `scalewize new <client>`: scaffold a client folder from the `mcp-servers.json` template,
//! checked and rendered in memory first, then moved into place in one rename.

use super::{Ctx, Outcome};
use crate::cli::NewArgs;
use crate::error::{Error, Result};
use crate::render::{self, Renderer};
use crate::secrets;
use crate::secrets::{set_command, store_path};
use crate::workspace::naming;

pub fn run(ctx: &mut Ctx, args: NewArgs) -> Result<Outcome> {
    if let Some(slug) = &args.server {
        return super::new_server::run(ctx, slug, args.for_client.as_deref());
    }
    let id = args
        .client
        .as_deref()
        .expect("clap requires a client without --server");
    naming::check_client_id(id).map_err(|e| Error::new(e).hint("nothing was created"))?;
    let ws = ctx.workspace()?;
    let _lock = ctx.lock(&ws, &format!("new {id}"))?;
    let dir = ws.client_dir(id);
    if dir.exists() {
        return Err(Error::new(format!(
            "client `{id}` already exists ({})",
            ws.relative(&dir).display()
        ))
        .hint(format!(
            "edit {}/mcp-servers.json, or choose another id",
            ws.relative(&dir).display()
        )));
    }
    let name = args.name.clone().unwrap_or_else(|| id.to_string());
    let text = render::scaffold::client_file(&ws, id, &name)?;
    let client = ws.load_client_from_text(id, &text).map_err(|ds| {
        Error::from_diagnostics(
            format!("the new client `{id}` would not be valid; nothing was created"),
            ds,
        )
    })?;
    let rendered = Renderer::new(&ws).render(&client).map_err(|ds| {
        Error::from_diagnostics(
            format!("the new client `{id}` would not render; nothing was created"),
            ds,
        )
    })?;

    // Its generated secrets (LibreChat's credentials, service tokens), encrypted in memory.
    // Writing to the store needs recipients, and an identity that can read the store.
    let nothing = |e: Error| Error {
        message: format!("{}; nothing was created", e.message),
        ..e
    };
    let store = super::secret::open_store(ctx, &ws)?;
    secrets::parse_recipients(&ws.settings.recipients).map_err(nothing)?;
    store.check_identity().map_err(nothing)?;
    let generated = secrets::generate::missing(&store, &secrets::generate::generatable(&client))
        .map_err(nothing)?;
    let items: Vec<_> = generated
        .iter()
        .map(|(g, v)| (g.r.clone(), v.clone()))
        .collect();
    let staged_secrets = store.stage(&items, &[]).map_err(nothing)?;

    // Stage everything in a hidden sibling folder, then rename it into place.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".scalewize-new-{id}-"))
        .tempdir_in(dir.parent().expect("client-configs"))
        .map_err(|e| Error::io("create a staging folder in", dir.parent().unwrap(), e))?;
    let stage = |path: &std::path::Path| {
        staging
            .path()
            .join(path.strip_prefix(&dir).expect("inside the client folder"))
    };
    crate::fs::write_atomic(&stage(&client.file), text.as_bytes(), None)?;
    for f in &rendered.files {
        crate::fs::write_atomic(&stage(&f.path), f.content.as_bytes(), None)?;
    }
    let mut shared_files = Vec::new();
    for s in staged_secrets {
        if s.path.starts_with(&dir) {
            crate::fs::write_atomic(&stage(&s.path), s.content.as_bytes(), None)?;
            store.remember_staged(s);
        } else {
            shared_files.push(s);
        }
    }
    // Values the shared store lacked (the fingerprint key, shared services' tokens) are filled in
    // first: harmless if the rename below fails.
    store.commit(shared_files)?;
    let staged = staging.keep();
    std::fs::rename(&staged, &dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        Error::io("create", &dir, e)
    })?;

    // Deploying it will write secrets under .scalewize/: keep them out of git from the start.
    let ignored_now = ws.ensure_state_ignored()?;
    let ui = &ctx.ui;
    ui.say(format!("{} client `{id}` ({name:?})", ui.green("created")));
    if ignored_now {
        ui.say(format!(
            "  .gitignore now ignores {}/ (local state, resolved secrets)",
            crate::workspace::STATE_DIR
        ));
    }
    ui.say(format!("  {}", ws.relative(&client.file).display()));
    for f in &rendered.files {
        ui.say(format!("  {}", ws.relative(&f.path).display()));
    }
    say_generated(ui, generated.iter().map(|(g, _)| g));
    let missing: Vec<_> = crate::render::needs(&client)
        .into_iter()
        .filter(|n| !store.contains(&n.r).unwrap_or(true))
        .collect();
    for n in &missing {
        ui.say(format!(
            "  {} {} ({}): {} < value.txt",
            ui.yellow("to set"),
            n.r.name,
            n.purpose,
            set_command(&n.r)
        ));
    }
    for n in &rendered.notes {
        ui.note(n);
    }
    ui.say(format!(
        "next: add servers to {} (it inherits client-configs/default/), then `scalewize render {id}`",
        ws.relative(&client.file).display()
    ));
    Ok(Outcome::Done)
}

/// One line per secret `new` generated: its name, what it is for, and the store it went to.
pub(super) fn say_generated<'a>(
    ui: &crate::ui::Ui,
    generated: impl Iterator<Item = &'a secrets::generate::Generatable>,
) {
    for g in generated {
        ui.say(format!(
            "  {} {} ({}) in {}",
            ui.green("generated"),
            g.r.name,
            g.purpose,
            store_path(&g.r.scope)
        ));
    }
}
