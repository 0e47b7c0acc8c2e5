//! The compose project that runs one client's LibreChat on this machine, decided here —
//! LibreChat (pinned by `librechat.image`) published on loopback, its own MongoDB, the env file,
//! the host alias — and written by `export`'s compose writer: one writer, two uses.
//! The MCP servers run on the host; the container reaches them through `host.docker.internal`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::model::LIBRECHAT_CONFIG_PATH;

/// The pinned MongoDB image and the service names are `export`'s: one decision for both uses.
pub use crate::export::compose::{LIBRECHAT_SERVICE, MONGO_IMAGE, MONGO_SERVICE};
use crate::export::compose::{LibreChat, Project};
/// The host name containers use for this machine (mapped with `host-gateway`).
pub const HOST_ALIAS: &str = "host.docker.internal";
/// LibreChat's port inside its container.
pub const CONTAINER_PORT: u16 = 3080;

/// Is `image` pinned: a digest, or a tag other than `latest`?
pub fn pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    matches!(last.split_once(':'), Some((_, tag)) if !tag.is_empty() && tag != "latest")
}

/// What a client's project needs.
pub struct Inputs<'a> {
    pub project: &'a str,
    pub librechat_image: &'a str,
    /// The host port LibreChat is published on (loopback only).
    pub port: u16,
    /// File names relative to the project folder.
    pub env_file: &'a str,
    pub config_file: &'a str,
}

/// The URI of the database `db` in the project's own MongoDB.
pub fn own_mongo_uri(db: &str) -> String {
    format!("mongodb://{MONGO_SERVICE}:27017/{db}")
}

/// The project for one client, in `export`'s compose model (one writer for both uses);
/// refuses an unpinned image.
pub fn project(i: &Inputs) -> Result<Project> {
    for image in [i.librechat_image, MONGO_IMAGE] {
        if !pinned(image) {
            return Err(Error::new(format!(
                "the image `{image}` is not pinned: `:latest` or no tag would change under you"
            ))
            .hint("pin LibreChat by tag or digest in mcp-servers.json: \"librechat\": {\"image\": \"ghcr.io/danny-avila/librechat:v0.8.1\"}"));
        }
    }
    Ok(Project {
        name: i.project.to_string(),
        header: vec![
            "Written by `scalewize deploy` (local): LibreChat and its MongoDB for one client."
                .into(),
        ],
        librechat: LibreChat {
            image: i.librechat_image.to_string(),
            port: CONTAINER_PORT,
            // Published on loopback only.
            publish: vec![format!("127.0.0.1:{}:{CONTAINER_PORT}", i.port)],
            // Every value (MONGO_URI included) comes from the env file: the one place resolved
            // values are written.
            env: BTreeMap::new(),
            env_files: vec![i.env_file.to_string()],
            config_file: format!("./{}", i.config_file),
            config_path: LIBRECHAT_CONFIG_PATH.to_string(),
            health_path: "/health".to_string(),
            extra_hosts: vec![format!("{HOST_ALIAS}:host-gateway")],
        },
        mongo_image: MONGO_IMAGE.to_string(),
        // The MCP servers run on the host, not in the project.
        servers: Vec::new(),
    })
}

pub fn to_yaml(project: &Project) -> Result<String> {
    crate::export::compose::to_yaml(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(image: &str) -> Inputs<'_> {
        Inputs {
            project: "sw-client-a",
            librechat_image: image,
            port: 3187,
            env_file: "environment.env",
            config_file: "librechat.yaml",
        }
    }

    #[test]
    fn only_tags_other_than_latest_and_digests_are_pinned() {
        for ok in [
            "ghcr.io/danny-avila/librechat:v0.8.1",
            "mongo:8.0.4",
            "localhost:5000/lc@sha256:0123",
        ] {
            assert!(pinned(ok), "{ok}");
        }
        for bad in ["mongo", "mongo:latest", "localhost:5000/lc", "ghcr.io/x/y:"] {
            assert!(!pinned(bad), "{bad}");
        }
    }

    #[test]
    fn an_unpinned_librechat_image_is_refused_with_the_fix() {
        let e = project(&inputs("ghcr.io/danny-avila/librechat:latest")).unwrap_err();
        assert!(e.message.contains("not pinned"), "{}", e.message);
        assert!(e.hint.unwrap().contains("librechat"));
    }

    #[test]
    fn the_project_publishes_librechat_on_loopback_and_maps_the_host() {
        let y =
            to_yaml(&project(&inputs("ghcr.io/danny-avila/librechat:v0.8.1")).unwrap()).unwrap();
        let v = crate::yaml::from_str(&y).unwrap();
        let lc = &v["services"]["librechat"];
        assert_eq!(lc["ports"][0].as_str(), Some("127.0.0.1:3187:3080"));
        assert_eq!(
            lc["extra_hosts"][0].as_str(),
            Some("host.docker.internal:host-gateway")
        );
        assert_eq!(
            lc["volumes"][0].as_str(),
            Some("./librechat.yaml:/app/librechat.yaml:ro")
        );
        assert_eq!(lc["env_file"][0].as_str(), Some("environment.env"));
        assert_eq!(v["name"].as_str(), Some("sw-client-a"));
    }
}
