use std::process::ExitCode;

fn main() -> ExitCode {
    scalewize_mcp_kit::run(
        &base_mcp_template::SPEC,
        base_mcp_template::TemplateServer::new,
    )
}
