use std::process::ExitCode;

fn main() -> ExitCode {
    scalewize_mcp_kit::run(
        &knowledge_base_mcp::SPEC,
        knowledge_base_mcp::KnowledgeBaseServer::new,
    )
}
