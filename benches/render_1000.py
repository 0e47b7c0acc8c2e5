#!/usr/bin/env python3
"""Benchmark (not a test): 1,000 clients x 6 servers, `render --all` and `validate --all`.

Reports the median of 10 runs and the peak resident memory of each command, next to seed 001's
`generate-client-config.sh` run 1,000 times (the script is taken from the seed document itself).

    python3 benches/render_1000.py            # builds the release binary first
    python3 benches/render_1000.py --runs 3   # quicker
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SCALEWIZE_SHARED_DIR", ROOT.parent / "shared"))


def build() -> Path:
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "scalewize"], cwd=ROOT, check=True)
    return ROOT / "target" / "release" / "scalewize"


def make_workspace(dest: Path, clients: int) -> None:
    """The example workspace's default + shared server, and N generated clients with 6 servers each."""
    for d in ["client-configs/default", "templates", "schemas", "custom-mcp-servers/shared/knowledge-base-mcp"]:
        shutil.copytree(ROOT / d, dest / d, ignore=shutil.ignore_patterns("target"))
    for f in ["scalewize.json", "example-only.age-identity.txt"]:
        shutil.copy(ROOT / f, dest / f)
    for i in range(clients):
        cid = f"client-{i:04d}"
        folder = dest / "custom-mcp-servers" / "clients" / cid / "ledger-mcp"
        folder.mkdir(parents=True)
        (folder / "scalewize.json").write_text(json.dumps({
            "run": {"cargo_bin": "ledger-mcp"},
            "image": "ghcr.io/example/ledger-mcp:1.0.0",
            "credential_mode": "per-user-header",
            "user_vars": [{"name": "LEDGER_KEY", "header": "X-Ledger-Key", "title": "Ledger key",
                           "description": f"Your key for client {i}"}],
        }))
        (dest / "client-configs" / cid).mkdir(parents=True)
        (dest / "client-configs" / cid / "mcp-servers.json").write_text(json.dumps({
            "client_id": cid,
            "client_name": f"Client {i} \"Holdings\": {{{{x}}}}",
            "mcp_servers": [
                {"name": "Knowledge Base", "enabled": True},
                {"name": "Ledger", "type": "client-specific"},
                {"name": "Wiki", "type": "client-specific", "url": f"https://wiki-{i}.example/mcp",
                 "description": "Internal wiki"},
                {"name": "Tickets", "type": "client-specific", "url": f"https://tickets-{i}.example/sse",
                 "user_vars": [{"name": "TICKETS_TOKEN", "header": "X-Tickets-Token", "title": "Token",
                                "description": "Personal token"}]},
            ],
        }))


def give_secrets(binary: Path, ws: Path, clients: int) -> None:
    """Every client needs its secrets for `validate` to pass: make one client's store with the
    real commands, then copy it (same names; `validate` reads names only)."""
    first = "client-0000"
    subprocess.run([str(binary), "-q", "secret", "generate", first], cwd=ws, check=True, capture_output=True)
    for name in ["MONGO_URI", "GOOGLE_DRIVE_MCP_OAUTH_CLIENT_ID", "GOOGLE_DRIVE_MCP_OAUTH_CLIENT_SECRET",
                 "SLACK_MCP_OAUTH_CLIENT_ID", "SLACK_MCP_OAUTH_CLIENT_SECRET"]:
        subprocess.run([str(binary), "-q", "secret", "set", first, name], cwd=ws, check=True,
                       input=b"bench-value\n", capture_output=True)
    store = (ws / "client-configs" / first / "secrets.env").read_bytes()
    for i in range(1, clients):
        (ws / "client-configs" / f"client-{i:04d}" / "secrets.env").write_bytes(store)


def timed(cmd, cwd):
    """(seconds, peak RSS in MiB, exit code) of one run, via GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], cwd=cwd, capture_output=True, text=True)
    last = out.stderr.strip().splitlines()[-1]
    secs, kib = last.split()
    return float(secs), int(kib) / 1024, out.returncode


def wall(cmd, cwd):
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True)
    return time.perf_counter() - start, out.returncode


def seed_script(dest: Path) -> Path:
    seed = (SHARED / "seeds" / "001_555e01ff39e28cb7.txt").read_text()
    body = re.search(r"### 2\. Generate Client Config Script.*?```bash\n(.*?)```", seed, re.S).group(1)
    script = dest / "generate-client-config.sh"
    script.write_text(body)
    return script


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    binary = build()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        make_workspace(ws, args.clients)
        give_secrets(binary, ws, args.clients)
        generated = lambda: list((ws / "client-configs").glob("client-*/librechat.yaml")) + \
            list((ws / "client-configs").glob("client-*/environment.env"))

        def cold():
            for f in generated():
                f.unlink()
            return timed([str(binary), "render", "--all", "-q"], ws)

        def run(name, fn):
            samples = [fn() for _ in range(args.runs)]
            assert all(s[2] == 0 for s in samples), f"{name} failed"
            results[name] = (statistics.median(s[0] for s in samples), max(s[1] for s in samples))

        run("render --all (writes 2 files per client)", cold)
        run("render --all (nothing to change)", lambda: timed([str(binary), "render", "--all", "-q"], ws))
        run("render --all --check", lambda: timed([str(binary), "render", "--all", "--check", "-q"], ws))
        run("validate --all", lambda: timed([str(binary), "validate", "--all", "-q"], ws))
        files = len(generated())

        seed_dir = Path(tmp) / "seed"
        seed_dir.mkdir()
        script = seed_script(seed_dir)
        samples = []
        for _ in range(max(1, args.runs // 5)):
            shutil.rmtree(seed_dir / "client-configs", ignore_errors=True)
            start = time.perf_counter()
            for i in range(args.clients):
                subprocess.run(["bash", str(script), f"client-{i:04d}", f"Client {i}"], cwd=seed_dir,
                               stdout=subprocess.DEVNULL, check=True)
            samples.append(time.perf_counter() - start)
        seed_median = statistics.median(samples)

    print(f"{args.clients} clients x 6 servers, median of {args.runs} runs, {os.cpu_count()} cores")
    print(f"{'command':45} {'median':>9} {'peak RSS':>10}")
    for name, (secs, mib) in results.items():
        print(f"{'scalewize ' + name:45} {secs:8.3f}s {mib:8.1f} MiB")
    print(f"{'seed 001 generate-client-config.sh x' + str(args.clients):45} {seed_median:8.3f}s {'':>10}")
    print(f"({files} generated files checked)")


if __name__ == "__main__":
    sys.exit(main())
