"""Density: how many idle code-interpreter sandboxes one machine holds, and what they cost.

Starts a private daemon (own state directory, warm pool off), then creates N code-interpreter
sandboxes one after the other through our SDK, each proven live by a `run_code` result, and
keeps them all running. Records per-sandbox create→result time, the machine's used memory
(MemTotal - MemAvailable), the sandboxes' cgroup memory, the daemon's fds and the number of
tasks, then checks that every sandbox still answers, kills them all through the SDK and
verifies that nothing is left (registry, processes, cgroups). The daemon is stopped by PID.

    python benches/runtime_density.py [--count 200] [--json out.json]

Not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runtime_targets as rt  # noqa: E402


def meminfo() -> dict:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        k, v = line.split(":", 1)
        out[k] = int(v.split()[0]) * 1024
    return out


def used_mb() -> float:
    m = meminfo()
    return (m["MemTotal"] - m["MemAvailable"]) / 2**20


def tasks_total() -> int:
    n = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                n += len(os.listdir(p / "task"))
            except OSError:  # exited meanwhile
                pass
    return n


def cpu_busy(seconds: float) -> float:
    """Fraction of all CPUs busy over `seconds`."""

    def snap():
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(f), f[3] + f[4]

    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="e2b-density-"))
    os.environ.pop("E2B_LOCAL_LOG", None)
    proc, state = rt.start_daemon(tmp, 0)
    for k in [k for k in os.environ if k.startswith("E2B_")]:
        del os.environ[k]
    os.environ["E2B_LOCAL_STATE_DIR"] = str(tmp)
    from e2b_code_interpreter import Sandbox

    res: dict = {"count": args.count, "load_before": os.getloadavg()}
    base_used, base_tasks = used_mb(), tasks_total()
    sandboxes, times, failures = [], [], []
    t_start = time.perf_counter()
    try:
        for i in range(args.count):
            t0 = time.perf_counter()
            try:
                sbx = Sandbox.create(timeout=3600)
                sandboxes.append(sbx)
                ex = sbx.run_code("1 + 1")
                assert ex.text == "2", ex
                times.append((time.perf_counter() - t0) * 1000)
            except Exception as e:  # record and stop: the first failure is the finding
                failures.append(f"sandbox {i + 1}: {type(e).__name__}: {e}")
                break
            if (i + 1) % 25 == 0:
                print(f"{i + 1} sandboxes, used {used_mb() - base_used:.0f} MB more, "
                      f"last create→result {times[-1]:.0f} ms, load {os.getloadavg()[0]:.1f}", flush=True)
        res["create_total_s"] = time.perf_counter() - t_start
        time.sleep(10)  # settle
        rows = rt.api(state, "/local/sandboxes")
        cg = [r.get("memoryBytes") or 0 for r in rows]
        daemon_fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
        res.update(
            live=len(rows),
            create_to_result_ms={"p50": statistics.median(times), "p99": rt.pct(times, 0.99), "max": max(times)},
            used_MB_increase=used_mb() - base_used,
            per_sandbox_used_MB=(used_mb() - base_used) / max(1, len(rows)),
            cgroup_MB_mean=statistics.mean(cg) / 2**20 if cg else 0,
            cgroup_MB_sum=sum(cg) / 2**20,
            tasks_increase=tasks_total() - base_tasks,
            daemon_fds=daemon_fds,
            idle_cpu_busy_fraction=cpu_busy(5),
            failures=failures,
        )
        # Every sandbox still answers.
        t0 = time.perf_counter()
        bad = 0
        for sbx in sandboxes:
            try:
                assert sbx.run_code("2 + 2").text == "4"
            except Exception:
                bad += 1
        res["recheck_failures"] = bad
        res["recheck_s"] = time.perf_counter() - t0
    finally:
        t0 = time.perf_counter()
        for sbx in sandboxes:
            try:
                sbx.kill()
            except Exception as e:
                failures.append(f"kill {sbx.sandbox_id}: {e}")
        res["kill_all_s"] = time.perf_counter() - t0
        time.sleep(2)
        left = rt.api(state, "/local/sandboxes")
        res["left_in_registry"] = len(left)
        res["left_processes"] = len(rt.descendants(proc.pid)) - 1
        rt.stop(proc)
    # This daemon's cgroup parent (other daemons on the machine have their own).
    import re

    m = re.search(r"under (e2b-local/\w+)", (tmp / "serve.log").read_text())
    left_dirs = []
    if m:
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            parent = hierarchy / m.group(1)
            if parent.is_dir():
                left_dirs += [str(d) for d in parent.iterdir() if d.is_dir()]
    res["cgroup_dirs_after_stop"] = left_dirs
    res["used_MB_after_stop"] = used_mb() - base_used
    print(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
