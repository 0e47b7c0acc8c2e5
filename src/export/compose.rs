//! The Docker Compose writer: one project per client (LibreChat, its MongoDB with a named volume,
//! and MCP servers), from a fully decided `Project`. It decides nothing about a client: callers
//! (`export`, and the local platform's LibreChat project) say which images, values and files;
//! this module only owns how that is spelled as a Compose file, so both uses stay one writer.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::yaml;

/// MongoDB for each client's LibreChat, pinned (a floating tag would change the database under a
/// client on any pull).
pub const MONGO_IMAGE: &str = "mongo:8.0.4";
/// The Compose service name of the database, and LibreChat's URI for it.
pub const MONGO_SERVICE: &str = "mongodb";
pub const MONGO_URI: &str = "mongodb://mongodb:27017/LibreChat";
/// The named volume that keeps the database across `docker compose down`.
pub const MONGO_VOLUME: &str = "mongodb-data";
/// The Compose service name of LibreChat.
pub const LIBRECHAT_SERVICE: &str = "librechat";

/// One client's stack, fully decided.
#[derive(Debug, Clone)]
pub struct Project {
    /// The Compose project name (`name:`), e.g. `sw-client-a`.
    pub name: String,
    /// Comment lines at the top (what generated the file).
    pub header: Vec<String>,
    pub librechat: LibreChat,
    pub mongo_image: String,
    /// MCP servers run in the project, by Compose service name.
    pub servers: Vec<Server>,
}

#[derive(Debug, Clone)]
pub struct LibreChat {
    pub image: String,
    pub port: u16,
    /// `host:container` or `container` port publications, e.g. `3080:3080`.
    pub publish: Vec<String>,
    /// Literal values (a `$` is written as `$$`, so Compose does not interpolate it).
    pub env: BTreeMap<String, String>,
    /// Env files (paths relative to the compose file), e.g. the secrets file.
    pub env_files: Vec<String>,
    /// The `librechat.yaml` to mount (a path relative to the compose file) and where LibreChat reads it.
    pub config_file: String,
    pub config_path: String,
    pub health_path: String,
    /// `host:address` entries, e.g. `host.docker.internal:host-gateway` (the local platform's
    /// LibreChat reaches the MCP servers running on the host).
    pub extra_hosts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Server {
    /// The Compose service name; other services reach it by this host name.
    pub name: String,
    pub image: String,
    pub port: u16,
    pub health_path: String,
    pub env: BTreeMap<String, String>,
    pub env_files: Vec<String>,
    /// Whether LibreChat waits for it (servers LibreChat calls).
    pub librechat_uses: bool,
}

// ---- the Compose file, as the Compose Specification spells it ----

#[derive(Serialize)]
struct ComposeFile {
    name: String,
    services: BTreeMap<String, Service>,
    volumes: BTreeMap<String, Volume>,
}

#[derive(Serialize)]
struct Service {
    image: String,
    restart: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    depends_on: BTreeMap<String, DependsOn>,
    healthcheck: Healthcheck,
}

#[derive(Serialize)]
struct DependsOn {
    condition: &'static str,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: &'static str,
    timeout: &'static str,
    retries: u32,
    start_period: &'static str,
}

#[derive(Serialize)]
struct Volume {}

/// An HTTP health check from inside the container. Images differ in which client they ship
/// (busybox `wget` in Alpine images such as LibreChat's, `curl` in Debian ones), so try both.
fn http_check(port: u16, path: &str) -> Healthcheck {
    let url = format!("http://127.0.0.1:{port}{path}");
    Healthcheck {
        test: vec![
            "CMD-SHELL".into(),
            // The URL comes from validated manifests (port, path); quoted for the shell anyway.
            format!(
                "wget -q -O /dev/null '{url}' || curl -fsS -o /dev/null '{url}'",
                url = url.replace('\'', "").replace('$', "$$")
            ),
        ],
        interval: "10s",
        timeout: "5s",
        retries: 5,
        start_period: "20s",
    }
}

/// Compose interpolates `$VAR` and `${VAR}` in the file; a literal `$` is `$$`.
fn literal(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| (k.clone(), v.replace('$', "$$")))
        .collect()
}

/// The Compose file for `project`: header comments, then the project as YAML.
pub fn to_yaml(project: &Project) -> Result<String> {
    let mut services = BTreeMap::new();
    let lc = &project.librechat;
    let mut depends_on = BTreeMap::from([(
        MONGO_SERVICE.to_string(),
        DependsOn {
            condition: "service_healthy",
        },
    )]);
    for s in &project.servers {
        if services.contains_key(&s.name) || s.name == LIBRECHAT_SERVICE || s.name == MONGO_SERVICE
        {
            return Err(Error::new(format!(
                "two services of compose project `{}` are named `{}`",
                project.name, s.name
            )));
        }
        if s.librechat_uses {
            depends_on.insert(
                s.name.clone(),
                DependsOn {
                    condition: "service_healthy",
                },
            );
        }
        services.insert(
            s.name.clone(),
            Service {
                image: s.image.clone(),
                restart: "unless-stopped",
                ports: Vec::new(),
                environment: literal(&s.env),
                env_file: s.env_files.clone(),
                volumes: Vec::new(),
                extra_hosts: Vec::new(),
                depends_on: BTreeMap::new(),
                healthcheck: http_check(s.port, &s.health_path),
            },
        );
    }
    services.insert(
        LIBRECHAT_SERVICE.to_string(),
        Service {
            image: lc.image.clone(),
            restart: "unless-stopped",
            ports: lc.publish.clone(),
            environment: literal(&lc.env),
            env_file: lc.env_files.clone(),
            volumes: vec![format!("{}:{}:ro", lc.config_file, lc.config_path)],
            extra_hosts: lc.extra_hosts.clone(),
            depends_on,
            healthcheck: http_check(lc.port, &lc.health_path),
        },
    );
    services.insert(
        MONGO_SERVICE.to_string(),
        Service {
            image: project.mongo_image.clone(),
            restart: "unless-stopped",
            ports: Vec::new(),
            environment: BTreeMap::new(),
            env_file: Vec::new(),
            volumes: vec![format!("{MONGO_VOLUME}:/data/db")],
            extra_hosts: Vec::new(),
            depends_on: BTreeMap::new(),
            healthcheck: Healthcheck {
                test: vec![
                    "CMD".into(),
                    "mongosh".into(),
                    "--quiet".into(),
                    "--eval".into(),
                    "db.adminCommand('ping')".into(),
                ],
                interval: "10s",
                timeout: "5s",
                retries: 5,
                start_period: "20s",
            },
        },
    );
    let file = ComposeFile {
        name: project.name.clone(),
        services,
        volumes: BTreeMap::from([(MONGO_VOLUME.to_string(), Volume {})]),
    };
    let body = yaml::to_string_of(&file).map_err(|e| {
        Error::new(format!(
            "cannot write compose project `{}`: {e}",
            project.name
        ))
    })?;
    let mut out = String::new();
    for line in &project.header {
        out.push_str(&format!("# {}\n", yaml::comment_text(line)));
    }
    out.push_str(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            name: "sw-acme".into(),
            header: vec!["generated by a test".into()],
            librechat: LibreChat {
                image: "ghcr.io/danny-avila/librechat:v0.8.1".into(),
                port: 3080,
                publish: vec!["3080:3080".into()],
                env: BTreeMap::from([("APP_TITLE".into(), "Price $5".into())]),
                env_files: vec!["secrets/librechat.env".into()],
                config_file: "./librechat.yaml".into(),
                config_path: "/app/librechat.yaml".into(),
                health_path: "/health".into(),
                extra_hosts: Vec::new(),
            },
            mongo_image: MONGO_IMAGE.into(),
            servers: vec![Server {
                name: "crm".into(),
                image: "ghcr.io/x/crm:1".into(),
                port: 8080,
                health_path: "/health".into(),
                env: BTreeMap::new(),
                env_files: vec![],
                librechat_uses: true,
            }],
        }
    }

    #[test]
    fn a_dollar_in_a_value_is_not_interpolated_by_compose() {
        let text = to_yaml(&project()).unwrap();
        let doc = yaml::from_str(&text).unwrap();
        assert_eq!(
            doc["services"]["librechat"]["environment"]["APP_TITLE"].as_str(),
            Some("Price $$5")
        );
    }

    #[test]
    fn librechat_waits_for_its_database_and_the_servers_it_calls() {
        let doc = yaml::from_str(&to_yaml(&project()).unwrap()).unwrap();
        let deps = doc["services"]["librechat"]["depends_on"]
            .as_mapping()
            .unwrap();
        let names: Vec<&str> = deps.keys().filter_map(|k| k.as_str()).collect();
        assert_eq!(names, ["crm", "mongodb"]);
        assert_eq!(
            doc["services"]["mongodb"]["volumes"][0].as_str(),
            Some("mongodb-data:/data/db")
        );
    }

    #[test]
    fn a_server_named_like_librechat_is_refused() {
        let mut p = project();
        p.servers[0].name = "librechat".into();
        assert!(
            to_yaml(&p)
                .unwrap_err()
                .to_string()
                .contains("named `librechat`")
        );
    }
}
