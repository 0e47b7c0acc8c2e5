//! An emulator of the Fly.io Machines REST API (apps, machines, leases, metadata, secrets, IP
//! assignments), faithful to `shared/reference/notes/fly.md` and strict where the real API is
//! lenient: unknown JSON keys are refused with 400. It injects faults from a seed, enforces the
//! documented rate limits, runs on scaled time, and records every request.
//!
//! ```no_run
//! use fly_emulator::{Config, Emulator, Faults};
//! let emu = Emulator::start(Config::default().time_scale(0.01).faults(Faults::chaos(7, 3, 0.05)));
//! let base = emu.url(); // the client appends /v1/...
//! # let _ = base;
//! assert!(emu.sent_json_keys().iter().all(|k| k != "auto_stop_machines"));
//! ```
//!
//! See README.md for the list of behaviours that are not in the notes.

mod api;
mod clock;
mod config;
mod record;
mod rng;
mod schema;
mod server;
mod state;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::watch;

pub use config::{
    BucketSpec, Config, Fault, Faults, Health, LostResponseMode, Org, RateLimits, StopMode,
    Timings, Token, TokenScope,
};
pub use record::{
    AppSnapshot, Counters, FaultCounts, FaultKind, IpSnapshot, LeaseSnapshot, LoggedRequest,
    MachineSnapshot, RateLimitEvent, RateViolation, Rejection, SecretSnapshot, Snapshot,
};
pub use schema::{Problem, ProblemKind};

use server::{Shared, lock};
use state::Inner;

/// Entry point.
pub struct Emulator;

impl Emulator {
    /// Bind 127.0.0.1 (`config.port`, 0 = any) and serve on a background thread with its own
    /// tokio runtime. Works from sync tests and from async code. Panics if it cannot bind.
    pub fn start(config: Config) -> EmulatorHandle {
        Emulator::try_start(config).expect("fly-emulator: cannot start")
    }

    pub fn try_start(config: Config) -> std::io::Result<EmulatorHandle> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared: Shared = Arc::new(Mutex::new(Inner::new(config)));
        let (tx, rx) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fly-emulator")
            .enable_all()
            .build()?;
        let serve_state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fly-emulator".to_string())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => server::serve(l, serve_state, rx).await,
                        Err(e) => eprintln!("fly-emulator: {e}"),
                    }
                });
                runtime.shutdown_timeout(std::time::Duration::from_millis(200));
            })?;
        Ok(EmulatorHandle {
            shared,
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

/// A running emulator. Dropping it shuts the server down.
pub struct EmulatorHandle {
    shared: Shared,
    addr: SocketAddr,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// Base URL without `/v1` (`http://127.0.0.1:PORT`); the client appends `/v1/...`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared).log.clone()
    }

    /// Logged requests whose method is not GET, whatever their status (a second deploy with
    /// nothing changed should make none).
    pub fn mutating_requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared)
            .log
            .iter()
            .filter(|e| e.method != "GET")
            .cloned()
            .collect()
    }

    /// Forget the request log (counters, rejections and histories are kept).
    pub fn clear_requests(&self) {
        lock(&self.shared).log.clear();
    }

    /// Normalised state: apps sorted by name, live machines by (name, id), secrets by name.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.shared).snapshot()
    }

    /// The snapshot as pretty JSON with generated ids (machine ids, versions, app ids, IPs,
    /// nonces) replaced by stable placeholders such as `<machine-1>`.
    pub fn snapshot_golden(&self) -> String {
        let mut inner = lock(&self.shared);
        let snap = inner.snapshot();
        let text = serde_json::to_string_pretty(&snap).unwrap_or_default();
        inner.normalize(&text)
    }

    /// Replace the fault configuration (counters of eligible requests restart from zero).
    pub fn set_faults(&self, faults: Faults) {
        let mut inner = lock(&self.shared);
        inner.faults = faults;
        inner.reset_fault_targets();
    }

    /// No more faults (including `stop_after`).
    pub fn clear_faults(&self) {
        self.set_faults(Faults::none());
    }

    /// Kill-after-k: answer requests 1..=k (counted from the start), then stop answering.
    /// `None` answers again.
    pub fn set_stop_after(&self, k: Option<u64>) {
        lock(&self.shared).faults.stop_after = k;
    }

    /// Answer `n` more requests, then stop answering (kill-after-k relative to now).
    pub fn stop_answering_after(&self, n: u64) {
        let mut inner = lock(&self.shared);
        inner.faults.stop_after = Some(inner.seq + n);
    }

    /// Number of requests received so far (the `k` of `set_stop_after` counts these).
    pub fn request_count(&self) -> u64 {
        lock(&self.shared).seq
    }

    pub fn set_time_scale(&self, scale: f64) {
        lock(&self.shared).clock.set_scale(scale);
    }

    pub fn time_scale(&self) -> f64 {
        lock(&self.shared).clock.scale()
    }

    /// Move virtual time forward (expires leases, finishes transitions and lags, refills
    /// buckets) without sleeping.
    pub fn advance(&self, virtual_secs: f64) {
        lock(&self.shared).clock.advance(virtual_secs);
    }

    /// Virtual seconds since start.
    pub fn now(&self) -> f64 {
        lock(&self.shared).now()
    }

    pub fn set_rate_limits(&self, limits: RateLimits) {
        let mut inner = lock(&self.shared);
        inner.cfg.rate_limits = limits;
        inner.buckets.clear();
    }

    pub fn counters(&self) -> Counters {
        lock(&self.shared).counters.clone()
    }

    pub fn fault_counts(&self) -> FaultCounts {
        lock(&self.shared).counters.faults.clone()
    }

    /// Requests that reached a bucket before the `Retry-After` announced for it had elapsed.
    pub fn rate_violations(&self) -> Vec<RateViolation> {
        lock(&self.shared).violations.clone()
    }

    /// Every 429 sent (natural and injected).
    pub fn rate_limit_history(&self) -> Vec<RateLimitEvent> {
        lock(&self.shared).limited.clone()
    }

    /// Every refused key or value (unknown keys, fly.toml-only names, bad types, ...).
    pub fn rejections(&self) -> Vec<Rejection> {
        lock(&self.shared).rejections.clone()
    }

    /// Every JSON object key the client ever sent, at any depth (including keys of free-form
    /// maps such as `env` and `metadata`).
    pub fn sent_json_keys(&self) -> BTreeSet<String> {
        self.keys().0
    }

    /// Every JSON key path ever sent, e.g. `config.services[].autostop`.
    pub fn sent_json_key_paths(&self) -> BTreeSet<String> {
        self.keys().1
    }

    fn keys(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let inner = lock(&self.shared);
        let (mut names, mut paths) = (Vec::new(), Vec::new());
        for e in &inner.log {
            if let Some(v) = &e.json {
                schema::collect_keys(v, "", &mut names, &mut paths);
            }
        }
        (names.into_iter().collect(), paths.into_iter().collect())
    }

    /// One line per request, `METHOD /path?query -> STATUS [faults]`, with generated ids
    /// replaced by placeholders (`<machine-1>`, `<version-2>`, `<nonce-1>`, `<ip-1>`, ...).
    /// A request answered with no response shows `-> none`.
    pub fn golden_lines(&self) -> Vec<String> {
        self.golden(false)
    }

    /// As `golden_lines`, with the request body (compact JSON) appended.
    pub fn golden_lines_with_bodies(&self) -> Vec<String> {
        self.golden(true)
    }

    fn golden(&self, bodies: bool) -> Vec<String> {
        let inner = lock(&self.shared);
        inner
            .log
            .iter()
            .map(|e| {
                let mut line = format!("{} {}", e.method, e.path);
                if let Some(q) = &e.query {
                    line.push('?');
                    line.push_str(q);
                }
                match e.status {
                    Some(s) => line.push_str(&format!(" -> {s}")),
                    None => line.push_str(" -> none"),
                }
                if !e.faults.is_empty() {
                    let names: Vec<&str> = e.faults.iter().map(|f| f.as_str()).collect();
                    line.push_str(&format!(" [{}]", names.join(",")));
                }
                if bodies && let Some(b) = &e.json {
                    line.push(' ');
                    line.push_str(&b.to_string());
                }
                inner.normalize(&line)
            })
            .collect()
    }

    /// Replace generated ids in any text with their placeholders.
    pub fn normalize_ids(&self, text: &str) -> String {
        lock(&self.shared).normalize(text)
    }

    /// The digest the emulator reports for a secret value.
    pub fn secret_digest(value: &str) -> String {
        state::secret_digest(value)
    }

    /// A JSON value of the whole request log (for dumping on test failure).
    pub fn requests_json(&self) -> Value {
        serde_json::to_value(self.requests()).unwrap_or(Value::Null)
    }

    /// Stop serving now (also done on drop).
    pub fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
