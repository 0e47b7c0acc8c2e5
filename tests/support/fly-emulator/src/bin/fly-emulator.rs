//! Serve the emulator on a port, for manual use and benchmarks.
//!
//! fly-emulator [--port N] [--time-scale F] [--token T] [--org SLUG] [--seed N] [--chaos P]
//!              [--no-rate-limits]

use fly_emulator::{Config, Emulator, Faults, RateLimits, Token};

fn main() {
    let mut config = Config::default();
    let mut tokens = Vec::new();
    let mut org = "personal".to_string();
    let mut seed = 0u64;
    let mut chaos: Option<f64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("fly-emulator: {name} needs a value");
                std::process::exit(1)
            })
        };
        match arg.as_str() {
            "--port" => config.port = parse(&value("--port")),
            "--time-scale" => config.time_scale = parse(&value("--time-scale")),
            "--token" => tokens.push(value("--token")),
            "--org" => org = value("--org"),
            "--seed" => seed = parse(&value("--seed")),
            "--chaos" => chaos = Some(parse(&value("--chaos"))),
            "--no-rate-limits" => config.rate_limits = RateLimits::disabled(),
            "-h" | "--help" => {
                println!(
                    "fly-emulator [--port N] [--time-scale F] [--token T]... [--org SLUG] [--seed N] [--chaos P] [--no-rate-limits]"
                );
                return;
            }
            other => {
                eprintln!("fly-emulator: unknown argument {other:?} (see --help)");
                std::process::exit(1);
            }
        }
    }
    if org != "personal" {
        config.orgs.push(fly_emulator::Org::new(&org, &org));
    }
    if !tokens.is_empty() {
        config.tokens = tokens.iter().map(|t| Token::org(t, &org)).collect();
    } else if org != "personal" {
        config.tokens = vec![Token::org("test-token", &org)];
    }
    if let Some(p) = chaos {
        config.faults = Faults::chaos(seed, 3, p);
    }
    config.id_seed ^= seed;
    let emu = Emulator::start(config);
    println!("{}", emu.url());
    loop {
        std::thread::park();
    }
}

fn parse<T: std::str::FromStr>(s: &str) -> T {
    s.parse().unwrap_or_else(|_| {
        eprintln!("fly-emulator: cannot parse {s:?}");
        std::process::exit(1)
    })
}
