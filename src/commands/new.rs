//! `scalewize new <client>`: scaffold a client folder from the `mcp-servers.json` template,
//! checked and rendered in memory first, then moved into place in one rename.

use super::{Ctx, Outcome};
use crate::cli::NewArgs;
use crate::error::{Error, Result};
use crate::render::{self, Renderer};
use crate::workspace::naming;

pub fn run(ctx: &mut Ctx, args: NewArgs) -> Result<Outcome> {
    let id = args.client.as_str();
    naming::check_client_id(id).map_err(|e| Error::new(e).hint("nothing was created"))?;
    let ws = ctx.workspace()?;
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
    render::write_atomic(&stage(&client.file), text.as_bytes(), None)?;
    for f in &rendered.files {
        render::write_atomic(&stage(&f.path), f.content.as_bytes(), None)?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        Error::io("create", &dir, e)
    })?;

    let ui = &ctx.ui;
    ui.say(format!("{} client `{id}` ({name:?})", ui.green("created")));
    ui.say(format!("  {}", ws.relative(&client.file).display()));
    for f in &rendered.files {
        ui.say(format!("  {}", ws.relative(&f.path).display()));
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
