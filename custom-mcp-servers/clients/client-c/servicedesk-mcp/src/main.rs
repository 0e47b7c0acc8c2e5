use std::process::ExitCode;

fn main() -> ExitCode {
    scalewize_mcp_kit::run(
        &servicedesk_mcp::SPEC,
        servicedesk_mcp::ServiceDeskServer::new,
    )
}
