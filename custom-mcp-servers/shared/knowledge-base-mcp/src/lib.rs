//! `knowledge-base-mcp`: the shared help-center server (credential mode `none`), deployed once and
//! used by many clients. Its articles are compiled in from `articles/*.md`; the first line of each
//! (`# Title`) is its title and the file name its id.

use rmcp::{
    ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ServerConfig},
    tool, tool_handler, tool_router,
};
use scalewize_mcp_kit::{self as kit, HasKit, Kit, ServerSpec, ToolError};
use serde::Deserialize;
use serde_json::json;

pub static SPEC: ServerSpec = ServerSpec {
    name: env!("CARGO_PKG_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    title: "Knowledge Base",
    instructions: "Help-center articles about this assistant: connecting accounts, tools, files, \
                   passwords, privacy. Use search_articles, then get_article for the full text.",
    credentials: &[],
};

/// `(id, markdown)` of every article.
const ARTICLES: &[(&str, &str)] = &[
    (
        "connect-your-crm",
        include_str!("../articles/connect-your-crm.md"),
    ),
    (
        "reset-your-password",
        include_str!("../articles/reset-your-password.md"),
    ),
    (
        "tools-not-showing",
        include_str!("../articles/tools-not-showing.md"),
    ),
    (
        "uploading-files",
        include_str!("../articles/uploading-files.md"),
    ),
    (
        "your-data-and-privacy",
        include_str!("../articles/your-data-and-privacy.md"),
    ),
];

const DEFAULT_LIMIT: usize = 5;
const SNIPPET_CHARS: usize = 200;

/// One help-center article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Article {
    pub id: &'static str,
    pub title: &'static str,
    /// The markdown after the title line.
    pub body: &'static str,
}

/// Every built-in article, in id order.
pub fn articles() -> Vec<Article> {
    ARTICLES
        .iter()
        .map(|(id, text)| {
            let (first, body) = text.split_once('\n').unwrap_or((text, ""));
            Article {
                id,
                title: first.trim_start_matches('#').trim(),
                body: body.trim(),
            }
        })
        .collect()
}

fn terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|term| term.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

/// Articles matching `query`, best first: a term in the title counts 3, each occurrence in the
/// body 1. Articles matching no term are left out.
pub fn search(query: &str, limit: usize) -> Vec<(Article, usize)> {
    let terms = terms(query);
    let mut hits: Vec<(Article, usize)> = articles()
        .into_iter()
        .map(|article| {
            let title = article.title.to_lowercase();
            let body = article.body.to_lowercase();
            let score = terms
                .iter()
                .map(|term| {
                    3 * usize::from(title.contains(term.as_str()))
                        + body.matches(term.as_str()).count()
                })
                .sum();
            (article, score)
        })
        .filter(|(_, score)| *score > 0)
        .collect();
    hits.sort_by(|(a, score_a), (b, score_b)| score_b.cmp(score_a).then(a.id.cmp(b.id)));
    hits.truncate(limit);
    hits
}

/// The first paragraph of the body, cut to about 200 characters.
fn snippet(article: &Article) -> String {
    let paragraph = article.body.split("\n\n").next().unwrap_or_default();
    let flat = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= SNIPPET_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(SNIPPET_CHARS).collect();
    format!("{}…", cut.trim_end())
}

#[derive(Clone)]
pub struct KnowledgeBaseServer {
    kit: Kit,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Words to look for, e.g. "reset password" or "connect CRM".
    pub query: String,
    /// At most this many articles (default 5).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetArticleArgs {
    /// The article id, as returned by search_articles.
    pub id: String,
}

#[tool_router]
impl KnowledgeBaseServer {
    pub fn new(kit: Kit) -> Result<Self, String> {
        let tool_router = kit.restrict(Self::tool_router() + kit::whoami_router())?;
        Ok(KnowledgeBaseServer { kit, tool_router })
    }

    #[tool(
        description = "Search the help-center articles. Returns ids, titles and a snippet; read \
                       one with get_article.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search_articles(&self, Parameters(args): Parameters<SearchArgs>) -> CallToolResult {
        let limit = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, ARTICLES.len());
        let results: Vec<_> = search(&args.query, limit)
            .into_iter()
            .map(|(article, score)| {
                json!({
                    "id": article.id,
                    "title": article.title,
                    "score": score,
                    "snippet": snippet(&article),
                })
            })
            .collect();
        kit::json_result(&json!({ "query": args.query, "results": results }))
    }

    #[tool(
        description = "Read one help-center article in full (markdown).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_article(
        &self,
        Parameters(args): Parameters<GetArticleArgs>,
    ) -> Result<CallToolResult, ToolError> {
        let id = args.id.trim();
        let article = articles()
            .into_iter()
            .find(|article| article.id == id)
            .ok_or_else(|| {
                ToolError::new(format!(
                    "no article with id {id:?}; search_articles lists the ids"
                ))
            })?;
        Ok(kit::json_result(&json!({
            "id": article.id,
            "title": article.title,
            "body": article.body,
        })))
    }
}

impl HasKit for KnowledgeBaseServer {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for KnowledgeBaseServer {
    fn get_info(&self) -> ServerConfig {
        self.kit.server_config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_matches_the_spec() {
        if let Err(problems) =
            scalewize_mcp_kit::testing::check_manifest(env!("CARGO_MANIFEST_DIR"), &SPEC)
        {
            panic!("scalewize.json: {problems:#?}");
        }
    }

    #[test]
    fn every_article_has_a_title_and_a_body() {
        let all = articles();
        assert_eq!(all.len(), 5);
        for article in all {
            assert!(!article.title.is_empty(), "{}", article.id);
            assert!(!article.title.starts_with('#'), "{}", article.id);
            assert!(article.body.len() > 100, "{}", article.id);
        }
    }

    #[test]
    fn search_ranks_title_matches_first_and_drops_misses() {
        let hits = search("reset password", 5);
        assert_eq!(hits[0].0.id, "reset-your-password");
        assert!(search("zzzz qqqq", 5).is_empty());
        assert!(search("", 5).is_empty());
        assert_eq!(search("the", 2).len(), 2);
    }

    #[test]
    fn snippets_are_short() {
        for article in articles() {
            assert!(snippet(&article).chars().count() <= SNIPPET_CHARS + 1);
        }
    }
}
