"""The local runtime's code interpreter, timed through our SDK.

Measures (milliseconds):
  * cold_create_to_first_result — `Sandbox.create()` + first `run_code("1 + 1")` result, with
    the warm pool off (`--pool-size 0`): sandbox, agent and Python kernel all start
  * pool_create_to_first_result — the same with the warm pool on (a ready sandbox is taken;
    the bench waits for the pool to refill before each sample)
  * run_code_ms — a trivial `run_code("1")` in a running sandbox (p50 / p99)
  * js_first_result — first `run_code(..., language="js")` in a new sandbox (Deno kernel start)

Each daemon is private to the run (its own state directory) and stopped by PID at the end.

    python benches/runtime_code_interpreter.py [--samples 10] [--calls 500] [--json out.json]

Not a test: prints a table and writes JSON (--json PATH); CI does not gate on it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def start_daemon(state_dir: Path, pool_size: int) -> tuple[subprocess.Popen, dict]:
    env = dict(os.environ, E2B_LOCAL_STATE_DIR=str(state_dir), E2B_LOCAL_POOL_SIZE=str(pool_size))
    proc = subprocess.Popen(
        [sys.executable, "-m", "e2b._local", "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            state = json.loads((state_dir / "state.json").read_text())
            status(state)
            return proc, state
        except (OSError, ValueError):
            time.sleep(0.05)
    stop(proc)
    raise SystemExit("daemon did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def status(state: dict) -> dict:
    req = urllib.request.Request(state["url"] + "/local/status", headers={"X-API-Key": state["api_key"]})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def wait_pool(state: dict, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while status(state).get("warmPool", 0) < 1:
        if time.monotonic() > deadline:
            raise SystemExit("the warm pool did not refill")
        time.sleep(0.05)


def create_to_first_result(samples: int, state: dict | None, language: str | None = None, code: str = "1 + 1") -> list[float]:
    from e2b_code_interpreter import Sandbox

    out = []
    for _ in range(samples):
        if state is not None:
            wait_pool(state)
        else:
            time.sleep(0.5)  # let the previous sandbox's teardown finish
        t0 = time.perf_counter()
        sbx = Sandbox.create()
        try:
            execution = sbx.run_code(code, language=language)
            out.append((time.perf_counter() - t0) * 1000)
            assert execution.error is None, execution.error
        finally:
            sbx.kill()
    return out


def run_code_latency(calls: int) -> list[float]:
    from e2b_code_interpreter import Sandbox

    sbx = Sandbox.create()
    try:
        for _ in range(20):
            sbx.run_code("1")
        out = []
        for _ in range(calls):
            t0 = time.perf_counter()
            assert sbx.run_code("1").text == "1"
            out.append((time.perf_counter() - t0) * 1000)
        return out
    finally:
        sbx.kill()


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def summary(samples: list[float]) -> dict:
    return {
        "p50": statistics.median(samples),
        "p99": pct(samples, 0.99),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def phase(name: str, samples: int, calls: int) -> dict:
    """One daemon's measurements, in this process (the SDK resolves the daemon once)."""
    results: dict[str, dict] = {}
    state = json.loads((Path(os.environ["E2B_LOCAL_STATE_DIR"]) / "state.json").read_text())
    if name == "cold":
        create_to_first_result(1, None)  # warm the page cache and the daemon's Python probe
        results["cold_create_to_first_result_ms"] = summary(create_to_first_result(samples, None))
        try:
            js = create_to_first_result(max(3, samples // 3), None, "js", "console.log(1)")
            results["js_first_result_ms"] = summary(js)
        except Exception as e:  # no Deno
            print(f"(javascript skipped: {e})", file=sys.stderr)
    else:
        results["pool_create_to_first_result_ms"] = summary(create_to_first_result(samples, state))
        results["run_code_ms"] = summary(run_code_latency(calls))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10, help="creates per scenario")
    parser.add_argument("--calls", type=int, default=500, help="run_code calls for p50/p99")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.samples, args.calls)))
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="e2b-bench-") as tmp:
        for name, pool_size in (("cold", 0), ("pool", 1)):
            state_dir = Path(tmp) / name
            proc, _ = start_daemon(state_dir, pool_size)
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--phase", name, "--samples", str(args.samples), "--calls", str(args.calls)],
                    env=dict(env, E2B_LOCAL_STATE_DIR=str(state_dir)),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results.update(json.loads(out.stdout.strip().splitlines()[-1]))
            finally:
                stop(proc)

    print(f"{'metric':<34} {'p50':>9} {'p99':>9} {'min':>9} {'max':>9} {'n':>5}")
    for name, row in results.items():
        print(f"{name:<34} {row['p50']:>9.2f} {row['p99']:>9.2f} {row['min']:>9.2f} {row['max']:>9.2f} {row['n']:>5}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
