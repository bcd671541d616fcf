"""The local runtime's performance targets (docs/runtime-performance.md), measured through our
SDK against private daemons.

Measures (milliseconds unless noted; p50 / p99 / min / max / n):
  * pool_create            — `e2b_code_interpreter.Sandbox.create()` served by the warm pool
                             (the bench waits for the pool to refill before each sample)
  * pool_create_to_result  — the same + the first `run_code("1 + 1")` result
  * cold_base_create       — `e2b.Sandbox.create()` (template `base`, no kernel), pool off
  * cold_create_to_result  — code-interpreter `Sandbox.create()` + first result, pool off
  * run_code               — trivial `run_code("1")` round trip in a running sandbox
  * run_true               — `commands.run("true")`
  * write_read_4KiB / 4MiB — `files.write` then `files.read(format="bytes")`
  * idle_memory_MB         — an idle code-interpreter sandbox (after one `run_code`): the cgroup's
                             memory usage, and the RSS / PSS of each of its processes

Every daemon has its own state directory and is stopped by PID at the end.

    python benches/runtime_targets.py [--samples 15] [--calls 500] [--json out.json]
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_") or k == "E2B_LOCAL_LOG"}
    env.update(E2B_LOCAL_STATE_DIR=str(state_dir), E2B_LOCAL_POOL_SIZE=str(pool_size))
    state_dir.mkdir(parents=True, exist_ok=True)
    log = open(state_dir / "serve.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "e2b._local", "serve"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            state = json.loads((state_dir / "state.json").read_text())
            api(state, "/local/status")
            return proc, state
        except (OSError, ValueError):
            time.sleep(0.05)
    stop(proc)
    raise SystemExit("daemon did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def api(state: dict, path: str):
    req = urllib.request.Request(state["url"] + path, headers={"X-API-Key": state["api_key"]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def wait_pool(state: dict, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while api(state, "/local/status").get("warmPool", 0) < 1:
        if time.monotonic() > deadline:
            raise SystemExit("the warm pool did not refill")
        time.sleep(0.02)
    time.sleep(0.2)  # let the refill's own work settle


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


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (by /proc/*/stat ppid)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def proc_memory(pid: int) -> dict:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    fields = {}
    for line in rollup.splitlines()[1:]:
        k, v = line.split(":", 1)
        fields[k] = int(v.split()[0]) / 1024
    return {"pid": pid, "cmd": cmd, "rss_MB": fields.get("Rss", 0), "pss_MB": fields.get("Pss", 0),
            "anon_MB": fields.get("Anonymous", 0)}


def phase_pool(state: dict, samples: int, calls: int) -> dict:
    from e2b_code_interpreter import Sandbox

    res: dict = {}
    create, first = [], []
    for _ in range(samples):
        wait_pool(state)
        t0 = time.perf_counter()
        sbx = Sandbox.create()
        t1 = time.perf_counter()
        try:
            ex = sbx.run_code("1 + 1")
            t2 = time.perf_counter()
            assert ex.error is None and ex.text == "2", ex
        finally:
            sbx.kill()
        create.append((t1 - t0) * 1000)
        first.append((t2 - t0) * 1000)
    res["pool_create"] = summary(create)
    res["pool_create_to_result"] = summary(first)

    wait_pool(state)
    sbx = Sandbox.create()
    try:
        for _ in range(30):
            sbx.run_code("1")
        lat = []
        for _ in range(calls):
            t0 = time.perf_counter()
            assert sbx.run_code("1").text == "1"
            lat.append((time.perf_counter() - t0) * 1000)
        res["run_code"] = summary(lat)

        for _ in range(20):
            sbx.commands.run("true")
        lat = []
        for _ in range(calls):
            t0 = time.perf_counter()
            sbx.commands.run("true")
            lat.append((time.perf_counter() - t0) * 1000)
        res["run_true"] = summary(lat)
        for name, size, n in (("write_read_4KiB", 4 << 10, calls), ("write_read_4MiB", 4 << 20, max(30, calls // 10))):
            data = os.urandom(size)
            for _ in range(5):
                sbx.files.write("bench.bin", data)
                sbx.files.read("bench.bin", format="bytes")
            lat = []
            for _ in range(n):
                t0 = time.perf_counter()
                sbx.files.write("bench.bin", data)
                got = sbx.files.read("bench.bin", format="bytes")
                lat.append((time.perf_counter() - t0) * 1000)
                assert len(got) == size
            res[name] = summary(lat)
        sbx.files.remove("bench.bin")

        # Idle memory, as the cgroup and /proc see it.
        time.sleep(3)
        row = next(r for r in api(state, "/local/sandboxes") if r["sandboxID"] == sbx.sandbox_id)
        procs = [m for m in (proc_memory(p) for p in descendants(row["initPid"])) if m]
        res["idle_memory_MB"] = {
            "cgroup": (row.get("memoryBytes") or 0) / 2**20,
            "rss_sum": sum(p["rss_MB"] for p in procs),
            "pss_sum": sum(p["pss_MB"] for p in procs),
            "processes": procs,
        }
    finally:
        sbx.kill()
    return res


def phase_cold(samples: int) -> dict:
    import e2b
    from e2b_code_interpreter import Sandbox

    res: dict = {}
    Sandbox.create().kill()  # page cache, the daemon's python probe
    base = []
    for _ in range(samples):
        time.sleep(0.3)
        t0 = time.perf_counter()
        sbx = e2b.Sandbox.create()
        base.append((time.perf_counter() - t0) * 1000)
        sbx.kill()
    res["cold_base_create"] = summary(base)
    first = []
    for _ in range(samples):
        time.sleep(0.3)
        t0 = time.perf_counter()
        sbx = Sandbox.create()
        try:
            ex = sbx.run_code("1 + 1")
            first.append((time.perf_counter() - t0) * 1000)
            assert ex.error is None and ex.text == "2", ex
        finally:
            sbx.kill()
    res["cold_create_to_result"] = summary(first)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--only", choices=["pool", "cold"])
    parser.add_argument("--json")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        state = json.loads((Path(os.environ["E2B_LOCAL_STATE_DIR"]) / "state.json").read_text())
        out = phase_pool(state, args.samples, args.calls) if args.phase == "pool" else phase_cold(args.samples)
        print(json.dumps(out))
        return
    results: dict = {"load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="e2b-bench-") as tmp:
        for name, pool_size in (("cold", 0), ("pool", 1)):
            if args.only and args.only != name:
                continue
            state_dir = Path(tmp) / name
            proc, _ = start_daemon(state_dir, pool_size)
            try:
                env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
                env["E2B_LOCAL_STATE_DIR"] = str(state_dir)
                out = subprocess.run(
                    [sys.executable, __file__, "--phase", name, "--samples", str(args.samples), "--calls", str(args.calls)],
                    env=env, capture_output=True, text=True,
                )
                if out.returncode != 0:
                    sys.stderr.write(out.stderr[-4000:])
                    raise SystemExit(f"phase {name} failed")
                results.update(json.loads(out.stdout.strip().splitlines()[-1]))
            finally:
                stop(proc)
    results["load_after"] = os.getloadavg()

    print(f"load average before {results['load_before']}, after {results['load_after']}")
    print(f"{'metric':<24} {'p50':>8} {'p99':>8} {'min':>8} {'max':>8} {'n':>5}")
    for name, row in results.items():
        if isinstance(row, dict) and "p50" in row:
            print(f"{name:<24} {row['p50']:>8.2f} {row['p99']:>8.2f} {row['min']:>8.2f} {row['max']:>8.2f} {row['n']:>5}")
    mem = results.get("idle_memory_MB")
    if mem:
        print(f"idle code-interpreter sandbox: cgroup {mem['cgroup']:.1f} MB, RSS sum {mem['rss_sum']:.1f} MB, "
              f"PSS sum {mem['pss_sum']:.1f} MB")
        for p in mem["processes"]:
            print(f"   pid {p['pid']:>7} rss {p['rss_MB']:6.1f} pss {p['pss_MB']:6.1f} anon {p['anon_MB']:6.1f}  {p['cmd']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
