//! `railway-emulator`: serves the emulator on a port for manual use and benchmarks.
//!
//! ```text
//! railway-emulator [--port N] [--schema PATH] [--time-scale F] [--seed N] [--chaos]
//!                  [--token T]... [--plan free|hobby|pro|enterprise] [--no-rate-limits]
//! ```
//! Prints the endpoint URL and the accepted tokens, then serves until killed.

use std::net::SocketAddr;
use std::process::ExitCode;

use railway_emulator::{
    Config, DEFAULT_ACCOUNT_TOKEN, DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_TOKEN, Emulator, Faults,
    Plan, RateLimits, TokenConfig,
};

const USAGE: &str = "usage: railway-emulator [--port N] [--schema PATH] [--time-scale F] \
[--seed N] [--chaos] [--token T]... [--plan free|hobby|pro|enterprise] [--no-rate-limits]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("railway-emulator: {e}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut cfg = Config::default();
    let mut port = 0u16;
    let mut extra_tokens = vec![];
    let mut plan = Plan::Pro;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--port" => port = val("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--schema" => cfg.schema_path = Some(val("--schema")?.into()),
            "--time-scale" => {
                cfg.time_scale = val("--time-scale")?
                    .parse()
                    .map_err(|e| format!("--time-scale: {e}"))?
            }
            "--seed" => cfg.seed = val("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--chaos" => cfg.faults = Faults::chaos(),
            "--token" => extra_tokens.push(val("--token")?),
            "--plan" => {
                plan = match val("--plan")?.as_str() {
                    "free" => Plan::Free,
                    "hobby" => Plan::Hobby,
                    "pro" => Plan::Pro,
                    "enterprise" => Plan::Enterprise,
                    other => return Err(format!("unknown plan {other}")),
                }
            }
            "--no-rate-limits" => cfg.rate_limits = RateLimits::disabled(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    for t in &mut cfg.tokens {
        t.plan = plan;
    }
    for t in extra_tokens {
        cfg.tokens
            .push(TokenConfig::workspace(&t, DEFAULT_WORKSPACE_ID, plan));
    }
    cfg.bind = SocketAddr::from(([127, 0, 0, 1], port));
    let emu = Emulator::try_start(cfg).map_err(|e| e.to_string())?;
    println!("railway-emulator listening on {}", emu.url());
    println!("workspace id:    {DEFAULT_WORKSPACE_ID}");
    println!("workspace token: {DEFAULT_WORKSPACE_TOKEN} (Authorization: Bearer)");
    println!("account token:   {DEFAULT_ACCOUNT_TOKEN} (Authorization: Bearer)");
    loop {
        std::thread::park();
    }
}
