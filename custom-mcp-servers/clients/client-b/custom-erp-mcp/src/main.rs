use std::process::ExitCode;

fn main() -> ExitCode {
    scalewize_mcp_kit::run(&custom_erp_mcp::SPEC, custom_erp_mcp::ErpServer::new)
}
