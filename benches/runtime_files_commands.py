"""Runtime benchmark: commands and file transfers through envd, end to end (SDK → daemon →
sandbox agent), with our SDK and — when given — the official one, against a daemon of its own.

Measures (wall time per operation, milliseconds):
  * run_true            — `sandbox.commands.run("true")` (p50 / p99)
  * write_read_4KiB     — `files.write` then `files.read(format="bytes")` of 4 KiB (p50 / p99)
  * write_read_4MiB     — the same with 4 MiB (p50 / p99, and MB/s of the pair at p50)

    python benches/runtime_files_commands.py [--upstream .venv-compat/bin/python] [--json out.json]

Not a test: prints a table; CI does not gate on it. It starts a private daemon (its own state
directory) and stops it by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CLIENT = textwrap.dedent(
    """
    import json, os, sys, time
    from e2b import Sandbox

    runs, big_runs = int(sys.argv[1]), int(sys.argv[2])

    def pct(samples, p):
        s = sorted(samples)
        return s[min(len(s) - 1, round((len(s) - 1) * p))] * 1000

    sbx = Sandbox.create()
    try:
        for _ in range(20):
            sbx.commands.run("true")
        t = []
        for _ in range(runs):
            t0 = time.perf_counter(); sbx.commands.run("true"); t.append(time.perf_counter() - t0)
        out = {"run_true": (pct(t, 0.5), pct(t, 0.99))}
        for name, size, n in (("write_read_4KiB", 4 << 10, runs), ("write_read_4MiB", 4 << 20, big_runs)):
            data = os.urandom(size)
            for _ in range(5):
                sbx.files.write("bench.bin", data)
                sbx.files.read("bench.bin", format="bytes")
            t = []
            for _ in range(n):
                t0 = time.perf_counter()
                sbx.files.write("bench.bin", data)
                got = sbx.files.read("bench.bin", format="bytes")
                t.append(time.perf_counter() - t0)
                assert len(got) == size
            out[name] = (pct(t, 0.5), pct(t, 0.99))
        print(json.dumps(out))
    finally:
        sbx.kill()
    """
)


def start_daemon(python: str, state_dir: Path) -> tuple[subprocess.Popen, dict]:
    """Starts a private daemon (its own state directory) and returns it with its state."""
    env = dict(os.environ, E2B_LOCAL_STATE_DIR=str(state_dir))
    for var in ("E2B_API_KEY", "E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL", "E2B_DEBUG", "E2B_LOCAL"):
        env.pop(var, None)
    log = open(state_dir / "serve.log", "ab")
    proc = subprocess.Popen(
        [python, "-m", "e2b._local", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = state_dir / "state.json"
        if state.exists():
            try:
                return proc, json.loads(state.read_text())
            except ValueError:
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    raise RuntimeError("the daemon did not start")


def run_client(python: str, env: dict, runs: int, big_runs: int) -> dict:
    """Runs the measuring client with `python` (our SDK or the official one)."""
    out = subprocess.run(
        [python, "-c", CLIENT, str(runs), str(big_runs)], env=env, capture_output=True, text=True, timeout=900
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Runs the benchmark and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", default=str(REPO / ".venv/bin/python"))
    parser.add_argument("--upstream", help="Python with the official e2b 2.63.0 (compared when given)")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--big-runs", type=int, default=30)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="e2b-bench-") as tmp:
        state_dir = Path(tmp)
        proc, state = start_daemon(args.ours, state_dir)
        try:
            results = {}
            ours_env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
            ours_env["E2B_LOCAL_STATE_DIR"] = str(state_dir)
            results["ours"] = run_client(args.ours, ours_env, args.runs, args.big_runs)
            if args.upstream:
                up_env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
                up_env.update(E2B_API_URL=state["url"], E2B_SANDBOX_URL=state["url"], E2B_API_KEY=state["api_key"])
                results["upstream"] = run_client(args.upstream, up_env, args.runs, args.big_runs)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    print(f"{'metric':<18} {'sdk':<9} {'p50 ms':>9} {'p99 ms':>9} {'MB/s@p50':>9}")
    for sdk, res in results.items():
        for metric, (p50, p99) in res.items():
            rate = ""
            if metric == "write_read_4MiB":
                rate = f"{2 * 4 * 1.048576 / (p50 / 1000):.0f}"
            print(f"{metric:<18} {sdk:<9} {p50:>9.2f} {p99:>9.2f} {rate:>9}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
