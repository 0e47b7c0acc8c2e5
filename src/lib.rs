//! scalewize: run LibreChat and its MCP servers for many client companies from one git repo.

pub fn run() -> i32 {
    0
}
