//! The process environment scalewize sets for every server (`docs/server-contract.md`).

use std::{fmt, net::IpAddr};

use crate::Secret;

/// Where and as whom to serve.
#[derive(Clone, Debug)]
pub struct Config {
    /// `HOST`: the address to bind (default `0.0.0.0`).
    pub host: IpAddr,
    /// `PORT`: the port to bind (default 8080; 0 picks a free port, which tests use).
    pub port: u16,
    /// `MCP_ACCESS_TOKEN`: required on every `/mcp` request.
    pub access_token: Secret,
    /// `MCP_SERVER_NAME`, else the crate name.
    pub name: String,
}

/// Why the server refuses to start (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    MissingAccessToken,
    InvalidHost(String),
    InvalidPort(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingAccessToken => write!(
                f,
                "MCP_ACCESS_TOKEN is not set: refusing to start without an access token. \
                 scalewize sets it on deploy; for a local run export one, e.g. \
                 MCP_ACCESS_TOKEN=$(openssl rand -hex 32)"
            ),
            ConfigError::InvalidHost(value) => {
                write!(
                    f,
                    "HOST={value:?} is not an IP address (e.g. 0.0.0.0 or 127.0.0.1)"
                )
            }
            ConfigError::InvalidPort(value) => {
                write!(f, "PORT={value:?} is not a port number (0-65535)")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_HOST: &str = "0.0.0.0";
pub const DEFAULT_PORT: u16 = 8080;

impl Config {
    /// Reads the config through `lookup` (which returns only non-empty values);
    /// `default_name` is the crate name.
    pub fn from_env(
        default_name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let access_token = lookup("MCP_ACCESS_TOKEN")
            .filter(|token| !token.trim().is_empty())
            .ok_or(ConfigError::MissingAccessToken)?;
        let host = lookup("HOST").unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let host = match host.trim() {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            other => other
                .parse()
                .map_err(|_| ConfigError::InvalidHost(host.clone()))?,
        };
        let port = match lookup("PORT") {
            None => DEFAULT_PORT,
            Some(port) => port
                .trim()
                .parse()
                .map_err(|_| ConfigError::InvalidPort(port.clone()))?,
        };
        let name = lookup("MCP_SERVER_NAME")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|| default_name.to_owned());
        Ok(Config {
            host,
            port,
            access_token: Secret::new(access_token),
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        move |name| {
            map.get(name)
                .filter(|v| !v.is_empty())
                .map(|v| v.to_string())
        }
    }

    #[test]
    fn defaults_apply_when_only_the_token_is_set() {
        let config =
            Config::from_env("my-mcp", lookup(&[("MCP_ACCESS_TOKEN", "t0ken-value")])).unwrap();
        assert_eq!(config.host.to_string(), "0.0.0.0");
        assert_eq!(config.port, 8080);
        assert_eq!(config.name, "my-mcp");
        assert_eq!(config.access_token.expose(), "t0ken-value");
    }

    #[test]
    fn every_setting_is_read() {
        let config = Config::from_env(
            "my-mcp",
            lookup(&[
                ("MCP_ACCESS_TOKEN", "t0ken-value"),
                ("HOST", "127.0.0.1"),
                ("PORT", "0"),
                ("MCP_SERVER_NAME", "client-a-crm"),
            ]),
        )
        .unwrap();
        assert_eq!(config.host.to_string(), "127.0.0.1");
        assert_eq!(config.port, 0);
        assert_eq!(config.name, "client-a-crm");
    }

    #[test]
    fn a_missing_or_blank_token_is_refused() {
        assert_eq!(
            Config::from_env("x", lookup(&[])).unwrap_err(),
            ConfigError::MissingAccessToken
        );
        assert_eq!(
            Config::from_env("x", lookup(&[("MCP_ACCESS_TOKEN", "   ")])).unwrap_err(),
            ConfigError::MissingAccessToken
        );
        let message = ConfigError::MissingAccessToken.to_string();
        assert!(message.contains("MCP_ACCESS_TOKEN"), "{message}");
    }

    #[test]
    fn bad_host_and_port_are_refused() {
        let token = ("MCP_ACCESS_TOKEN", "t0ken-value");
        assert!(matches!(
            Config::from_env("x", lookup(&[token, ("PORT", "http")])),
            Err(ConfigError::InvalidPort(_))
        ));
        assert!(matches!(
            Config::from_env("x", lookup(&[token, ("PORT", "70000")])),
            Err(ConfigError::InvalidPort(_))
        ));
        assert!(matches!(
            Config::from_env("x", lookup(&[token, ("HOST", "example.com")])),
            Err(ConfigError::InvalidHost(_))
        ));
    }
}
