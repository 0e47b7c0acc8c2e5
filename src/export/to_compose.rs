//! Desired services → one Compose project per client (`compose/<client>/`): `compose.yaml`, the
//! resolved `librechat.yaml` it mounts, and per service an env file of secrets
//! (`secrets/<service>.env`, only with `--with-secrets`, 0600) or its `.example` (names only).

use std::collections::BTreeMap;

use super::compose::{self, LibreChat, Project, Server};
use super::{ExportFile, Input, comment_block, internal_url, port_var};
use crate::error::{Error, Result};
use crate::model::{LIBRECHAT_CONFIG_PATH, ServiceKey, ServiceSpec, SpecValue};
use crate::render::allowed_addresses::with_allowed_addresses;
use crate::render::dotenv;
use crate::secrets::{SecretRef, set_command};

/// Where LibreChat is published on the Docker host.
const LIBRECHAT_HOST_PORT: u16 = 3080;
const COMPOSE_FILE: &str = "compose.yaml";
const CONFIG_FILE: &str = "librechat.yaml";

/// Every file of the selected clients' Compose projects.
pub fn compose_files(input: &Input) -> Result<Vec<ExportFile>> {
    input.check()?;
    let mut out = Vec::new();
    for client in input.clients {
        out.extend(client_files(input, client)?);
    }
    Ok(out)
}

/// A service's plain environment and its secrets, split: Compose gets the plain values in the
/// file and the secrets through an env file.
struct Split {
    plain: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretRef>,
}

fn split(
    spec: &ServiceSpec,
    url_of: &dyn Fn(&ServiceKey) -> Result<String>,
    own_url: &str,
) -> Result<Split> {
    let mut plain = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for (name, value) in &spec.env {
        match value {
            SpecValue::Plain { value } => {
                plain.insert(name.clone(), value.clone());
            }
            SpecValue::UrlOf { service } => {
                plain.insert(name.clone(), url_of(service)?);
            }
            SpecValue::OwnUrl => {
                plain.insert(name.clone(), own_url.to_string());
            }
            SpecValue::Secret(r) => {
                secrets.insert(name.clone(), r.clone());
            }
        }
    }
    Ok(Split { plain, secrets })
}

fn client_files(input: &Input, client: &str) -> Result<Vec<ExportFile>> {
    let dir = std::path::PathBuf::from(client);
    let lc_spec = input.librechat(client)?;
    let own = input.own_servers(client);
    let shared = input.shared_servers(client);
    let in_project: BTreeMap<&ServiceKey, &ServiceSpec> = own
        .iter()
        .chain(shared.iter())
        .map(|s| (&s.key, *s))
        .collect();
    // A shared server runs in each client's project under its own name, or elsewhere (--shared-url).
    let url_of = |key: &ServiceKey| -> Result<String> {
        if let Some(s) = in_project.get(key) {
            return Ok(internal_url(&key.name_in_project(), s));
        }
        if key.is_shared()
            && let Some(u) = input.shared_urls.get(&key.service)
        {
            return Ok(u.clone());
        }
        Err(Error::new(format!(
            "{client}: LibreChat needs the URL of {key}, which is not part of the export"
        )))
    };
    let own_url = format!("http://localhost:{LIBRECHAT_HOST_PORT}");
    let mut files = Vec::new();
    let mut servers = Vec::new();
    for spec in own.iter().chain(shared.iter()) {
        let name = spec.key.name_in_project();
        let mut env = split(spec, &url_of, &own_url)?;
        env.plain.extend(port_var(spec));
        let image = spec.image.clone().ok_or_else(|| {
            Error::new(format!(
                "{}: no image to run in Compose; scalewize builds no images",
                spec.key
            ))
            .hint("set \"image\" (pinned by tag or digest) in the server's scalewize.json")
        })?;
        files.extend(secret_files(input, client, &dir, &name, &env.secrets)?);
        servers.push(Server {
            librechat_uses: lc_spec.depends_on.contains(&spec.key),
            name: name.clone(),
            image,
            port: spec.port,
            health_path: spec.health_path.clone(),
            env: env.plain,
            env_files: secret_ref_files(&name, &env.secrets),
        });
    }
    let mut lc_env = split(lc_spec, &url_of, &own_url)?;
    // The project's own database, on the project's private network.
    lc_env.secrets.remove("MONGO_URI");
    lc_env
        .plain
        .insert("MONGO_URI".into(), compose::MONGO_URI.to_string());
    files.extend(secret_files(
        input,
        client,
        &dir,
        compose::LIBRECHAT_SERVICE,
        &lc_env.secrets,
    )?);
    // LibreChat blocks MCP servers on private addresses unless listed.
    let addresses: Vec<String> = servers
        .iter()
        .filter(|s| s.librechat_uses)
        .map(|s| format!("{}:{}", s.name, s.port))
        .collect();
    let rendered = lc_spec
        .files
        .get(LIBRECHAT_CONFIG_PATH)
        .ok_or_else(|| Error::new(format!("{client}: no rendered librechat.yaml")))?;
    let config = with_allowed_addresses(
        rendered,
        &addresses,
        "Added by scalewize export (compose): LibreChat blocks MCP servers on private addresses unless listed.",
    )?;
    let config = comment_block(&input.header(&format!(
        "{client}'s rendered librechat.yaml, as mounted into LibreChat"
    ))) + &config;
    files.push(ExportFile::public(dir.join(CONFIG_FILE), config));
    let project = Project {
        name: format!("{}-{client}", input.prefix),
        header: input.header(&format!(
            "the Docker Compose project of {client} (docker compose up -d)"
        )),
        librechat: LibreChat {
            image: lc_spec.image.clone().ok_or_else(|| {
                Error::new(format!("{client}: LibreChat's image is not pinned"))
                    .hint("set librechat.image in mcp-servers.json")
            })?,
            port: lc_spec.port,
            publish: vec![format!("{LIBRECHAT_HOST_PORT}:{}", lc_spec.port)],
            env: lc_env.plain,
            env_files: secret_ref_files(compose::LIBRECHAT_SERVICE, &lc_env.secrets),
            config_file: format!("./{CONFIG_FILE}"),
            config_path: LIBRECHAT_CONFIG_PATH.to_string(),
            health_path: lc_spec.health_path.clone(),
            extra_hosts: Vec::new(),
        },
        mongo_image: compose::MONGO_IMAGE.to_string(),
        servers,
    };
    files.push(ExportFile::public(
        dir.join(COMPOSE_FILE),
        compose::to_yaml(&project)?,
    ));
    Ok(files)
}

fn secret_ref_files(service: &str, secrets: &BTreeMap<String, SecretRef>) -> Vec<String> {
    if secrets.is_empty() {
        Vec::new()
    } else {
        vec![format!("secrets/{service}.env")]
    }
}

/// `secrets/<service>.env` with the values (0600) when exporting secrets; otherwise its
/// `.example`, naming each variable and where its value is set.
fn secret_files(
    input: &Input,
    client: &str,
    dir: &std::path::Path,
    service: &str,
    secrets: &BTreeMap<String, SecretRef>,
) -> Result<Vec<ExportFile>> {
    if secrets.is_empty() {
        return Ok(Vec::new());
    }
    let path = dir.join("secrets").join(format!("{service}.env"));
    let mut text = comment_block(&input.header(&format!("secrets of {client}/{service}")));
    if input.secrets.is_none() {
        text.push_str("# Fill in each value (or run the export with --with-secrets) and save as secrets/<service>.env, mode 0600.\n");
        for (name, r) in secrets {
            text.push_str(&format!("# {}\n{name}=\n", set_command(r)));
        }
        let mut example = path.into_os_string();
        example.push(".example");
        return Ok(vec![ExportFile::public(example, text)]);
    }
    for (name, r) in secrets {
        let value = input.secret_value(r)?.unwrap_or_default();
        let quoted = dotenv::quote(&value).map_err(|why| {
            Error::new(format!(
                "{client}/{service}: the value of `{name}` cannot be written to an env file: it {why}"
            ))
        })?;
        text.push_str(&format!("{name}={quoted}\n"));
    }
    Ok(vec![ExportFile::private(path, text)])
}
