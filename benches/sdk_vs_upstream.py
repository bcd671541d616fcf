"""Our SDK vs the official one, against the same local daemon, in the same sitting.

Measures (ratio = ours / upstream, lower is better):
  * import_wall_ms   — wall time of a fresh `python -c "import e2b_code_interpreter"` process
  * run_code_cpu_ms  — client CPU (user+sys of the client process) per tiny `run_code("1")`
  * run_code_wall_ms — wall per tiny `run_code("1")` (server-bound; for context)

The daemon runs on CPU 1 and the clients on CPU 0 when the machine has two CPUs.

    python benches/sdk_vs_upstream.py --ours .venv/bin/python --upstream .venv-compat/bin/python

Not a test: prints a table and writes JSON (--json PATH); CI does not gate on it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CLIENT_CPU, DAEMON_CPU = (0, 1) if (os.cpu_count() or 1) >= 2 else (0, 0)

RUN_CODE_SCRIPT = textwrap.dedent(
    """
    import os, sys, time, json
    os.sched_setaffinity(0, {%d})
    from e2b_code_interpreter import Sandbox
    n = int(sys.argv[1])
    sbx = Sandbox.create()
    try:
        for _ in range(10):
            sbx.run_code("1")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            assert sbx.run_code("1").text == "1"
        cpu1, wall1 = time.process_time(), time.perf_counter()
    finally:
        sbx.kill()
    print(json.dumps({"cpu_ms": (cpu1 - cpu0) * 1000 / n, "wall_ms": (wall1 - wall0) * 1000 / n}))
    """
    % CLIENT_CPU
)


def client_env(state: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env.update(E2B_API_URL=state["url"], E2B_SANDBOX_URL=state["url"], E2B_API_KEY=state["api_key"])
    return env


def import_wall(python: str, reps: int) -> list[float]:
    samples = []
    cmd = ["taskset", "-c", str(CLIENT_CPU), python, "-c", "import e2b_code_interpreter"]
    subprocess.run(cmd, check=True)  # warm the page cache
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def run_code_costs(python: str, state: dict, calls: int, reps: int) -> tuple[list[float], list[float]]:
    cpu, wall = [], []
    for _ in range(reps):
        out = subprocess.run([python, "-c", RUN_CODE_SCRIPT, str(calls)], env=client_env(state), capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        cpu.append(row["cpu_ms"])
        wall.append(row["wall_ms"])
    return cpu, wall


def start_daemon(ours: str, state_dir: Path) -> tuple[subprocess.Popen, dict]:
    env = dict(os.environ, E2B_LOCAL_STATE_DIR=str(state_dir))
    proc = subprocess.Popen(
        ["taskset", "-c", str(DAEMON_CPU), ours, "-m", "e2b._local", "serve"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return proc, json.loads((state_dir / "state.json").read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("daemon did not start")


def summary(samples: list[float]) -> dict:
    qs = statistics.quantiles(samples, n=4) if len(samples) >= 2 else [samples[0]] * 3
    return {"median": statistics.median(samples), "q1": qs[0], "q3": qs[2], "n": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", default=".venv/bin/python")
    parser.add_argument("--upstream", default=".venv-compat/bin/python")
    parser.add_argument("--import-reps", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    results: dict[str, dict] = {}
    results["import_wall_ms"] = {"ours": summary(import_wall(args.ours, args.import_reps)), "upstream": summary(import_wall(args.upstream, args.import_reps))}
    with tempfile.TemporaryDirectory(prefix="e2b-bench-") as tmp:
        proc, state = start_daemon(args.ours, Path(tmp))
        try:
            cpu_o, wall_o = run_code_costs(args.ours, state, args.calls, args.reps)
            cpu_u, wall_u = run_code_costs(args.upstream, state, args.calls, args.reps)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    results["run_code_cpu_ms"] = {"ours": summary(cpu_o), "upstream": summary(cpu_u)}
    results["run_code_wall_ms"] = {"ours": summary(wall_o), "upstream": summary(wall_u)}

    print(f"{'metric':<18} {'ours (median)':>14} {'upstream (median)':>18} {'ratio':>7}")
    for name, row in results.items():
        o, u = row["ours"]["median"], row["upstream"]["median"]
        row["ratio"] = o / u if u else None
        print(f"{name:<18} {o:>14.3f} {u:>18.3f} {row['ratio']:>7.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
