//! A deployment's tool filter (`MCP_TOOLS_ALLOW` / `MCP_TOOLS_DENY`, comma-separated tool
//! names): the other tools are hidden from `tools/list` and refused by `tools/call`. scalewize
//! sets it from a client's `"tools": {"allow": […]}` or `{"deny": […]}`, because LibreChat
//! cannot filter a server's tools itself (LibreChat#8783).

use rmcp::handler::server::router::tool::ToolRouter;

/// Which tools this deployment offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ToolFilter {
    #[default]
    All,
    Allow(Vec<String>),
    Deny(Vec<String>),
}

impl ToolFilter {
    /// From the environment; both variables set is an error (the server refuses to start).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<ToolFilter, String> {
        let list = |name: &str| {
            lookup(name).map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
        };
        match (list("MCP_TOOLS_ALLOW"), list("MCP_TOOLS_DENY")) {
            (Some(_), Some(_)) => {
                Err("MCP_TOOLS_ALLOW and MCP_TOOLS_DENY are both set: set one of them".to_string())
            }
            (Some(a), None) => Ok(ToolFilter::Allow(a)),
            (None, Some(d)) => Ok(ToolFilter::Deny(d)),
            (None, None) => Ok(ToolFilter::All),
        }
    }

    /// `router` with every tool this filter excludes disabled (rmcp hides a disabled tool from
    /// `tools/list` and answers "tool not found" to a call). A listed name the server does not
    /// have is an error: a typo must not silently expose or hide the wrong tools.
    pub fn apply<S>(&self, mut router: ToolRouter<S>) -> Result<ToolRouter<S>, String>
    where
        S: Send + Sync + 'static,
    {
        let have: Vec<String> = router
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        let (names, keep_listed) = match self {
            ToolFilter::All => return Ok(router),
            ToolFilter::Allow(n) => (n, true),
            ToolFilter::Deny(n) => (n, false),
        };
        if let Some(unknown) = names.iter().find(|n| !have.contains(n)) {
            return Err(format!(
                "the tool filter names {unknown:?}, which this server does not have (it has: {})",
                have.join(", ")
            ));
        }
        for t in &have {
            if names.contains(t) != keep_listed {
                router.disable_route(t.clone());
            }
        }
        Ok(router)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_filter_comes_from_one_of_two_variables() {
        assert_eq!(ToolFilter::from_env(env(&[])), Ok(ToolFilter::All));
        assert_eq!(
            ToolFilter::from_env(env(&[("MCP_TOOLS_ALLOW", "a, b")])),
            Ok(ToolFilter::Allow(vec!["a".into(), "b".into()]))
        );
        assert!(
            ToolFilter::from_env(env(&[("MCP_TOOLS_ALLOW", "a"), ("MCP_TOOLS_DENY", "b")]))
                .is_err()
        );
    }
}
