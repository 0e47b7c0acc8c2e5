use std::process::ExitCode;

fn main() -> ExitCode {
    scalewize_mcp_kit::run(&custom_crm_mcp::SPEC, custom_crm_mcp::CrmServer::new)
}
