use std::process::ExitCode;

fn main() -> ExitCode {
    scalewize_mcp_kit::run(&custom_hr_mcp::SPEC, custom_hr_mcp::HrServer::new)
}
