//! `scalewize new --server <slug> [--client <c>]`: a new MCP server from the workspace's
//! `custom-mcp-servers/shared/base-mcp-template`, renamed throughout (crate, binary, manifest,
//! schema and kit paths), added to the root Cargo workspace, with its access token generated;
//! for a client, also enabled in its `mcp-servers.json` and rendered, so the next `deploy`
//! creates it. Everything is checked in memory first; the folder moves into place in one rename.

use std::path::{Path, PathBuf};

use super::{Ctx, Outcome};
use crate::error::{Error, Result};
use crate::render::Renderer;
use crate::secrets::generate::{self, Generatable, TOKEN_BYTES};
use crate::secrets::{SecretRef, SecretScope};
use crate::workspace::{SERVERS_DIR, naming};

/// The template every new server starts from (README: "Copy and rename").
const TEMPLATE: &str = "shared/base-mcp-template";
const TEMPLATE_SLUG: &str = "base-mcp-template";
const TEMPLATE_TITLE: &str = "Base MCP Template";

pub fn run(ctx: &mut Ctx, slug: &str, client_id: Option<&str>) -> Result<Outcome> {
    check_slug(slug)?;
    let ws = ctx.workspace()?;
    let template = ws.root.join(SERVERS_DIR).join(TEMPLATE);
    if !template.join("scalewize.json").is_file() {
        return Err(Error::new(format!(
            "the server template {} is missing",
            ws.relative(&template).display()
        ))
        .hint("restore custom-mcp-servers/shared/base-mcp-template from the scalewize example workspace"));
    }
    let rel_dir = match client_id {
        Some(c) => format!("{SERVERS_DIR}/clients/{c}/{slug}"),
        None => format!("{SERVERS_DIR}/shared/{slug}"),
    };
    let dest = ws.root.join(&rel_dir);
    if dest.exists() || ws.root.join(SERVERS_DIR).join("shared").join(slug).exists() {
        return Err(Error::new(format!("a server `{slug}` already exists"))
            .hint("choose another name; a server's folder name is its slug (LibreChat keys users' saved values to it)"));
    }
    let title = title_of(slug);
    // Depth below custom-mcp-servers/: shared/<slug> is 2, clients/<c>/<slug> is 3.
    let depth = if client_id.is_some() { 3 } else { 2 };
    let files = template_files(&template)?;
    let renamed: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(rel, text)| (rel.clone(), rename(text, slug, &title, depth)))
        .collect();

    // The client's entry, checked and rendered in memory; and the token the server needs.
    let store = super::secret::open_store(ctx, &ws)?;
    let token = naming::token_var(slug);
    let mut client_files: Vec<(PathBuf, String)> = Vec::new();
    let wanted: Vec<Generatable> = match client_id {
        Some(c) => {
            ws.select(&[c.to_string()], false, false)?;
            let client = ws.load_client(c).map_err(|ds| {
                Error::from_diagnostics(
                    format!("{c} does not load; fix it first (nothing was created)"),
                    ds,
                )
            })?;
            let text = std::fs::read_to_string(&client.file)
                .map_err(|e| Error::io("read", &client.file, e))?;
            let text = add_entry(&text, &title, slug)?;
            // The folder must exist for the client to load with it: check against a staged copy.
            let updated = with_folder(&dest, &renamed, || ws.load_client_from_text(c, &text))?
                .map_err(|ds| {
                    Error::from_diagnostics(
                        format!("{c} would not be valid with `{slug}`; nothing was created"),
                        ds,
                    )
                })?;
            let rendered = with_folder(&dest, &renamed, || Renderer::new(&ws).render(&updated))?
                .map_err(|ds| {
                    Error::from_diagnostics(
                        format!("{c} would not render with `{slug}`; nothing was created"),
                        ds,
                    )
                })?;
            client_files.push((client.file.clone(), text));
            client_files.extend(
                rendered
                    .files
                    .iter()
                    .map(|f| (f.path.clone(), f.content.clone())),
            );
            generate::generatable(&updated)
        }
        None => vec![Generatable {
            r: SecretRef {
                name: token.clone(),
                scope: SecretScope::Shared,
            },
            bytes: TOKEN_BYTES,
            purpose: format!("access token of {slug}"),
        }],
    };
    crate::secrets::parse_recipients(&ws.settings.recipients)?;
    store.check_identity()?;
    let generated = generate::missing(&store, &wanted)?;
    let items: Vec<_> = generated
        .iter()
        .map(|(g, v)| (g.r.clone(), v.clone()))
        .collect();
    let staged_secrets = store.stage(&items, &[])?;
    let cargo = ws.root.join("Cargo.toml");
    let members = match std::fs::read_to_string(&cargo) {
        Ok(text) => Some(add_member(&text, &rel_dir)?),
        Err(_) => None,
    };

    // Write: the folder (staged, renamed into place), then the workspace member, secrets, client.
    let parent = dest.parent().expect("a parent folder");
    std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".scalewize-new-{slug}-"))
        .tempdir_in(parent)
        .map_err(|e| Error::io("create a staging folder in", parent, e))?;
    for (rel, text) in &renamed {
        crate::fs::write_atomic(&staging.path().join(rel), text.as_bytes(), None)?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, &dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        Error::io("create", &dest, e)
    })?;
    if let Some(text) = &members {
        crate::fs::write_atomic(&cargo, text.as_bytes(), None)?;
    }
    store.commit(staged_secrets)?;
    for (path, text) in &client_files {
        crate::fs::write_atomic(path, text.as_bytes(), None)?;
    }

    let ui = &ctx.ui;
    ui.say(format!(
        "{} server `{slug}` ({title:?}) in {rel_dir}/",
        ui.green("created")
    ));
    if members.is_some() {
        ui.say(format!("  added {rel_dir} to the members of Cargo.toml"));
    } else {
        ui.warn("no Cargo.toml at the workspace root: the local platform cannot build `run.cargo_bin` servers without one");
    }
    super::new::say_generated(ui, generated.iter().map(|(g, _)| g));
    for (path, _) in &client_files {
        ui.say(format!("  wrote {}", ws.relative(path).display()));
    }
    match client_id {
        Some(c) => ui.say(format!(
            "next: write its tools in {rel_dir}/src/lib.rs (see the template's README), `cargo test -p {slug}`, then `scalewize deploy {c}`"
        )),
        None => ui.say(format!(
            "next: write its tools in {rel_dir}/src/lib.rs, set `image` in its scalewize.json, then enable it in a client's mcp-servers.json: {{\"name\": \"{title}\", \"server\": \"{slug}\"}}"
        )),
    }
    Ok(Outcome::Done)
}

fn check_slug(slug: &str) -> Result<()> {
    let ok = slug.len() <= 40
        && slug.starts_with(|c: char| c.is_ascii_lowercase())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if !ok || slug == TEMPLATE_SLUG {
        return Err(Error::new(format!("`{slug}` is not a valid server name"))
            .hint("lowercase letters, digits and single `-`, starting with a letter, at most 40 characters, e.g. billing-mcp; nothing was created"));
    }
    Ok(())
}

/// `billing-mcp` → `Billing`, `custom-erp-mcp` → `Custom Erp` (fits LibreChat's title pattern).
fn title_of(slug: &str) -> String {
    let words: Vec<String> = slug
        .strip_suffix("-mcp")
        .unwrap_or(slug)
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    words.join(" ")
}

/// `billing-mcp` → `BillingMcpServer` (the template's `TemplateServer`).
fn type_name(slug: &str) -> String {
    let camel: String = slug
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    camel + "Server"
}

/// The template's text files by relative path (build output and editor files left out).
fn template_files(template: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = template.join(&rel);
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("read", &dir, e))?;
        for e in entries.flatten() {
            let name = e.file_name();
            if name == "target" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = rel.join(&name);
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if name != "README.md" {
                let text = std::fs::read_to_string(e.path())
                    .map_err(|err| Error::io("read", &e.path(), err))?;
                out.push((path, text));
            }
        }
    }
    out.push((
        PathBuf::from("README.md"),
        "# {{title}}\n\nMade with `scalewize new --server` from `custom-mcp-servers/shared/base-mcp-template`;\nits README says how to add tools and declare credentials.\n".to_string(),
    ));
    out.sort();
    Ok(out)
}

/// The template renamed: crate and binary, Rust names, title, and the relative paths to the
/// kit and the schemas (one level deeper for a client's server).
fn rename(text: &str, slug: &str, title: &str, depth: usize) -> String {
    let up = "../".repeat(depth);
    let mut t = text
        .replace("{{title}}", title)
        .replace(TEMPLATE_TITLE, title)
        .replace("base_mcp_template", &slug.replace('-', "_"))
        .replace(TEMPLATE_SLUG, slug)
        .replace("TemplateServer", &type_name(slug));
    if depth != 2 {
        t = t
            .replace("\"../../kit\"", &format!("\"{up}kit\""))
            .replace("../../../schemas/", &format!("../{up}schemas/"));
    }
    t
}

/// `text` (an mcp-servers.json) with an entry enabling the server, first in `mcp_servers`.
/// Edited as text so the rest of the hand-written file keeps its order and formatting.
fn add_entry(text: &str, title: &str, slug: &str) -> Result<String> {
    let entry = serde_json::json!({
        "name": title,
        "type": "client-specific",
        "server": slug,
        "enabled": true,
    });
    let entry = serde_json::to_string(&entry).expect("an entry serializes");
    let out = match text.find("\"mcp_servers\"") {
        Some(at) => {
            let open = text[at..]
                .find('[')
                .map(|i| at + i)
                .ok_or_else(|| Error::new("mcp_servers is not a list"))?;
            let rest = text[open + 1..].trim_start();
            let sep = if rest.starts_with(']') { "" } else { "," };
            format!("{}\n    {entry}{sep}{}", &text[..=open], &text[open + 1..])
        }
        None => {
            let close = text
                .rfind('}')
                .ok_or_else(|| Error::new("mcp-servers.json is not a JSON object"))?;
            format!(
                "{},\n  \"mcp_servers\": [{entry}]\n}}\n",
                text[..close].trim_end()
            )
        }
    };
    serde_json::from_str::<serde_json::Value>(&out)
        .map_err(|e| Error::new(format!("could not add the entry to mcp-servers.json: {e}")))?;
    Ok(out)
}

/// The root Cargo.toml with `rel_dir` added to `[workspace] members` (as text, keeping comments).
fn add_member(text: &str, rel_dir: &str) -> Result<String> {
    let start = text.find("members = [").ok_or_else(|| {
        Error::new("Cargo.toml has no `members = [` list")
            .hint(format!("add \"{rel_dir}\" to [workspace] members yourself"))
    })?;
    let close = text[start..]
        .find(']')
        .map(|i| start + i)
        .expect("a closed list");
    let before = text[..close].trim_end();
    let comma = if before.ends_with(',') || before.ends_with('[') {
        ""
    } else {
        ","
    };
    Ok(format!(
        "{before}{comma}\n    \"{rel_dir}\",\n{}",
        &text[close..]
    ))
}

/// Run `f` while the server's files exist at `dest` (loading a client checks its folder and
/// manifest), then remove them again.
fn with_folder<T>(dest: &Path, files: &[(PathBuf, String)], f: impl FnOnce() -> T) -> Result<T> {
    for (rel, text) in files {
        crate::fs::write_atomic(&dest.join(rel), text.as_bytes(), None)?;
    }
    let out = f();
    let _ = std::fs::remove_dir_all(dest);
    // A client's folder under clients/ may have been created just for this.
    if let Some(parent) = dest.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_slug() {
        assert_eq!(title_of("billing-mcp"), "Billing");
        assert_eq!(title_of("custom-erp-mcp"), "Custom Erp");
        assert_eq!(type_name("billing-mcp"), "BillingMcpServer");
    }

    #[test]
    fn an_entry_is_added_first_and_the_file_stays_as_written() {
        let text =
            "{\n  \"client_id\": \"a\",\n  \"mcp_servers\": [\n    {\"name\": \"X\"}\n  ]\n}\n";
        let out = add_entry(text, "Billing", "billing-mcp").unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["mcp_servers"][0]["server"], "billing-mcp");
        assert_eq!(v["mcp_servers"][1]["name"], "X");
        assert!(out.starts_with("{\n  \"client_id\": \"a\",\n  \"mcp_servers\": ["));
        let empty = add_entry("{\"mcp_servers\": []}", "B", "b-mcp").unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(&empty).is_ok(),
            "{empty}"
        );
    }

    #[test]
    fn a_member_is_appended_to_the_workspace() {
        let out = add_member(
            "[workspace]\nmembers = [\n    \".\",\n    \"a\"\n]\n",
            "b/c",
        )
        .unwrap();
        assert_eq!(
            out,
            "[workspace]\nmembers = [\n    \".\",\n    \"a\",\n    \"b/c\",\n]\n"
        );
    }
}
