//! Export: the desired state `deploy` uses (`plan::desired`'s `ServiceSpec`s), written as files
//! another runtime applies — a Docker Compose project per client, or Kubernetes manifests.
//! Exporters only translate fully decided services; they read no config of their own.
//!
//! Secrets are referenced, never written, unless the caller hands a `SecretSource`: then the
//! values go only into files marked `private` (written 0600), never into the manifests.
//!
//! This module sits just above the foundation (it imports nothing of `plan` or `platform`), so
//! the local platform can reuse the compose writer (`compose`) for its own LibreChat project.

pub mod compose;
mod k8s_objects;
mod k8s_policies;
pub mod kubernetes;
mod to_compose;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::{ServiceKey, ServiceKind, ServiceSpec};
use crate::secrets::{SecretRef, SecretSource, set_command};

pub use to_compose::compose_files;

/// What to export.
pub struct Input<'a> {
    /// The workspace prefix (`sw`): Compose project and namespace names start with it.
    pub prefix: &'a str,
    /// The selected clients, in order.
    pub clients: &'a [String],
    /// Every service of the selected clients (`plan::desired`).
    pub services: &'a BTreeMap<ServiceKey, ServiceSpec>,
    /// Shared servers that run elsewhere: slug → URL (`--shared-url`), not exported.
    pub shared_urls: &'a BTreeMap<String, String>,
    /// Where secret values come from when they are exported (`--with-secrets`); `None`: referenced only.
    pub secrets: Option<&'a dyn SecretSource>,
    /// The command that generated the files, for their header.
    pub command: &'a str,
}

/// One generated file, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    pub path: PathBuf,
    pub content: String,
    /// Holds secret values: written 0600, and never printed.
    pub private: bool,
}

impl ExportFile {
    fn public(path: impl Into<PathBuf>, content: String) -> Self {
        ExportFile {
            path: path.into(),
            content,
            private: false,
        }
    }
    fn private(path: impl Into<PathBuf>, content: String) -> Self {
        ExportFile {
            path: path.into(),
            content,
            private: true,
        }
    }
}

impl Input<'_> {
    /// Refuse `--shared-url` names that are not shared servers of the selected clients.
    pub fn check(&self) -> Result<()> {
        let shared: Vec<&str> = self
            .services
            .keys()
            .filter(|k| k.is_shared())
            .map(|k| k.service.as_str())
            .collect();
        for (name, url) in self.shared_urls {
            if !shared.contains(&name.as_str()) {
                let mut err = Error::new(format!(
                    "--shared-url {name}=…: no shared server named `{name}` is used by the selected clients"
                ));
                err = match crate::error::did_you_mean(name, shared.iter().copied()) {
                    Some(best) => err.hint(format!("did you mean `{best}`?")),
                    None if shared.is_empty() => {
                        err.hint("the selected clients use no deployed shared server")
                    }
                    None => err.hint(format!("shared servers in use: {}", shared.join(", "))),
                };
                return Err(err);
            }
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.contains(char::is_whitespace)
            {
                return Err(Error::new(format!(
                    "--shared-url {name}=…: `{url}` is not an http(s) URL"
                ))
                .hint(format!(
                    "give the MCP endpoint where {name} runs, e.g. --shared-url {name}=https://kb.example.com/mcp"
                )));
            }
        }
        Ok(())
    }

    /// The client's LibreChat.
    fn librechat(&self, client: &str) -> Result<&ServiceSpec> {
        self.services
            .get(&ServiceKey::librechat(client))
            .ok_or_else(|| Error::new(format!("client `{client}` has no LibreChat service")))
    }

    /// The client's own MCP servers and per-user instances, in key order.
    fn own_servers(&self, client: &str) -> Vec<&ServiceSpec> {
        self.services
            .values()
            .filter(|s| s.kind == ServiceKind::Mcp && s.key.owner == client)
            .collect()
    }

    /// Shared servers `client` uses that are exported with it (not given by `--shared-url`).
    fn shared_servers(&self, client: &str) -> Vec<&ServiceSpec> {
        self.services
            .values()
            .filter(|s| {
                s.key.is_shared()
                    && s.clients.contains(client)
                    && !self.shared_urls.contains_key(&s.key.service)
            })
            .collect()
    }

    /// The value of a secret, only when exporting them.
    fn secret_value(&self, r: &SecretRef) -> Result<Option<String>> {
        let Some(source) = self.secrets else {
            return Ok(None);
        };
        let v = source.value(r).map_err(|e| {
            Error::new(format!(
                "cannot export secret {}: {}",
                r.name,
                e.to_string().lines().next().unwrap_or("")
            ))
            .hint(format!("set it with `{}`", set_command(r)))
        })?;
        Ok(Some(v.expose().to_string()))
    }

    /// Header lines of every generated file.
    fn header(&self, what: &str) -> Vec<String> {
        vec![
            format!("{HEADER_START}{}` — do not edit: {what}.", self.command),
            "From client-configs/ and the server manifests; re-run the export after changing them \
             (`--check` exits 2 when this file is stale)."
                .to_string(),
        ]
    }
}

/// How every exported file begins (after `# `), so a later export knows its own files.
const HEADER_START: &str = "GENERATED by `scalewize export";

/// Whether the file at `path` was written by an export (its first line is the export's header).
pub fn is_generated(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    head[..n].starts_with(format!("# {HEADER_START}").as_bytes())
}

/// `http://<host>:<port><path>`: how one service reaches another on a private network.
fn internal_url(host: &str, spec: &ServiceSpec) -> String {
    format!("http://{host}:{}{}", spec.port, spec.path)
}

/// `PORT` as every platform gives it (the spec's own `PORT` wins).
fn port_var(spec: &ServiceSpec) -> Option<(String, String)> {
    (!spec.env.contains_key("PORT")).then(|| ("PORT".to_string(), spec.port.to_string()))
}

/// `# comment` lines for a header.
fn comment_block(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("# {}\n", crate::yaml::comment_text(l)))
        .collect()
}
