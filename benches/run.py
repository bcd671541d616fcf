"""The benchmark harness: our SDK against the official one (`e2b-code-interpreter` 2.11.5 /
`e2b` 2.63.0 from PyPI, in its own virtualenv) on the SAME local daemon in the same sitting,
and the local runtime's own latencies against their absolute targets.

    python benches/run.py [--quick] [--only NAME[,NAME…]] [--json out.json]
                          [--ours .venv/bin/python] [--upstream .venv-compat/bin/python]

* The daemon (and so every sandbox) runs on one CPU, the measuring clients on the other
  (`taskset` / `sched_setaffinity`; on a 1-CPU machine both share it).
* Every SDK measurement runs in fresh client processes, ours and upstream interleaved, for
  several repetitions; tables show medians with the interquartile range and the ratio
  ours / upstream (lower is better, except throughput).
* Scenarios live in `benches/client.py` and use only the public upstream API, so the same
  code measures both SDKs. `--only` takes scenario names (see `SCENARIOS`).

Not a test and never a CI gate: it prints tables and, with `--json`, writes every sample.
Daemons are private to the run (their own state directories) and are stopped by PID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLIENT = str(Path(__file__).resolve().parent / "client.py")
CLIENT_CPU, DAEMON_CPU = (0, 1) if (os.cpu_count() or 1) >= 2 else (0, 0)

# name → (kind, description). Order is the order of the tables.
SCENARIOS = {
    "import": "import e2b_code_interpreter: cold process wall and RSS",
    "size": "installed footprint (the distributions and their dependencies)",
    "run_code": "tiny run_code: client CPU and wall per call",
    "stream": "100 000 stdout lines in one run_code",
    "png": "one 5 MB PNG result: wall and extra client peak memory",
    "async": "AsyncSandbox, 100 concurrent tiny run_code calls",
    "threads": "8 threads, each with its own sync Sandbox: throughput",
    "create_kill": "Sandbox.create() + kill() (warm pool)",
    "runtime_create": "runtime: create from the pool / cold base sandbox",
    "first_result": "runtime: create → first run_code result, pool and cold",
    "js_first_result": "runtime: create → first run_code result in JavaScript (Deno kernel start)",
    "round_trip": "runtime: trivial run_code round trip p50/p99",
    "commands_files": "runtime: commands.run('true'), 4 KiB / 4 MiB write+read",
    "idle_memory": "runtime: idle code-interpreter sandbox memory",
    "many": "runtime: 200 live idle code-interpreter sandboxes",
}


# ------------------------------------------------------------------------------ statistics


def summary(samples: list[float]) -> dict:
    s = sorted(samples)
    if len(s) >= 2:
        q1, _, q3 = statistics.quantiles(s, n=4)
    else:
        q1 = q3 = s[0]
    return {
        "median": statistics.median(s),
        "q1": q1,
        "q3": q3,
        "p99": s[min(len(s) - 1, round(0.99 * (len(s) - 1)))],
        "min": s[0],
        "max": s[-1],
        "n": len(s),
        "samples": samples,
    }


def fmt(value: float, unit: str) -> str:
    if unit == "MB" or unit == "MiB":
        return f"{value:.1f} {unit}"
    if unit == "/s":
        return f"{value:.0f}{unit}"
    if value >= 100:
        return f"{value:.0f} {unit}"
    if value >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


# ------------------------------------------------------------------------------ processes


def clean_env(**extra: str) -> dict:
    """The environment of client processes: no E2B_* settings of the caller, and bytecode
    caching on (as in any installed environment; `compile_ours` writes ours ahead)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def compile_ours(python: str) -> None:
    """Byte-compiles our Python packages where they are imported from, as `pip install` does
    for a wheel (a development checkout would otherwise compile on every import)."""
    code = (
        "import compileall, os, e2b, e2b_code_interpreter\n"
        "for m in (e2b, e2b_code_interpreter):\n"
        "    compileall.compile_dir(os.path.dirname(m.__file__), quiet=1)"
    )
    subprocess.run([python, "-c", code], check=True, env=clean_env())


class Daemon:
    """A private `e2b-local serve` of our build, pinned to the daemon CPU."""

    def __init__(self, python: str, pool_size: int, tmp: Path, name: str):
        self.state_dir = tmp / name
        self.state_dir.mkdir()
        env = clean_env(E2B_LOCAL_STATE_DIR=str(self.state_dir), E2B_LOCAL_POOL_SIZE=str(pool_size))
        self.log = open(self.state_dir / "serve.log", "ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(DAEMON_CPU), python, "-m", "e2b._local", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.state = json.loads((self.state_dir / "state.json").read_text())
                break
            except (OSError, ValueError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise SystemExit(f"the daemon did not start; see {self.state_dir / 'serve.log'}")
                time.sleep(0.05)
        if pool_size:
            self.client_env_run("wait_pool")

    def client_env(self) -> dict:
        return clean_env(
            E2B_API_URL=self.state["url"],
            E2B_SANDBOX_URL=self.state["url"],
            E2B_API_KEY=self.state["api_key"],
            BENCH_CPU=str(CLIENT_CPU),
        )

    def client_env_run(self, what: str) -> None:
        code = f"import sys; sys.path.insert(0, {str(Path(CLIENT).parent)!r}); import client; client.{what}()"
        subprocess.run([sys.executable, "-c", code], env=self.client_env(), check=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def client(python: str, daemon: Daemon | None, scenario: str, timeout: float = 1800, **kwargs) -> dict:
    """Runs one scenario of `client.py` under `python`; returns its JSON."""
    env = daemon.client_env() if daemon else clean_env(BENCH_CPU=str(CLIENT_CPU))
    args = [python, CLIENT, scenario] + [f"{k}={v}" for k, v in kwargs.items()]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"{scenario} under {python} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(runners: dict, reps: int) -> dict:
    """`runners` maps a name (ours, upstream, floor) to a function returning a dict of
    lists/numbers; each is run `reps` times, interleaved; the per-key samples are
    concatenated (lists) or collected (numbers)."""
    out: dict = {name: {} for name in runners}
    for _ in range(reps):
        for name, run in runners.items():
            row = run()
            for key, value in row.items():
                bucket = out[name].setdefault(key, [])
                if isinstance(value, list):
                    bucket.extend(value)
                elif isinstance(value, (int, float)):
                    bucket.append(value)
    return out


# ------------------------------------------------------------------------------ scenarios


class Bench:
    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.pythons = {"ours": args.ours}
        if args.upstream:
            self.pythons["upstream"] = args.upstream
        self.sdk: dict = {}
        self.runtime: dict = {}
        self.failed: dict = {}
        self._daemon: Daemon | None = None
        self.quick = args.quick

    @property
    def daemon(self) -> Daemon:
        if self._daemon is None:
            self._daemon = Daemon(self.args.ours, self.args.pool_size, self.tmp, "main")
        return self._daemon

    def close(self) -> None:
        if self._daemon is not None:
            self._daemon.stop()

    def compare(self, metric: str, data: dict, key: str, unit: str, target: float, higher_better=False) -> None:
        row: dict = {"unit": unit, "target": target, "higher_is_better": higher_better}
        for sdk in list(self.pythons) + ["floor"]:
            if sdk in data and data[sdk].get(key):
                row[sdk] = summary(data[sdk][key])
        if "upstream" in row:
            row["ratio"] = row["ours"]["median"] / row["upstream"]["median"]
        if "upstream" in row and "floor" in row and not higher_better:
            # The part of the wall time each client adds above the no-SDK floor.
            above = [row[sdk]["median"] - row["floor"]["median"] for sdk in ("ours", "upstream")]
            row["above_floor"] = {"ours": above[0], "upstream": above[1]}
        if "ratio" in row and target is not None:
            row["met"] = row["ratio"] >= target if higher_better else row["ratio"] <= target
        self.sdk[metric] = row

    def absolute(self, metric: str, samples: list[float], unit: str, target: float | None, stat: str = "median") -> None:
        row = {"unit": unit, "stat": stat, "target": target, **summary(samples)}
        if target is not None:
            row["met"] = row["p99" if stat == "p99" else "median"] <= target
        self.runtime[metric] = row

    def runners(self, scenario: str, floor: bool = True, **kwargs) -> dict:
        """One runner per SDK for `scenario`, plus the no-SDK floor (`raw_<scenario>`, under
        our Python: it needs only the standard library and creates its sandbox itself)."""
        out = {sdk: (lambda py=py: client(py, self.daemon, scenario, **kwargs)) for sdk, py in self.pythons.items()}
        if floor:
            out["floor"] = lambda: client(self.args.ours, self.daemon, "raw_" + scenario, **kwargs)
        return out

    # -- SDK -----------------------------------------------------------------------------

    def b_import(self) -> None:
        reps = 10 if self.quick else 30
        walls: dict = {sdk: {"wall_ms": [], "rss_mib": []} for sdk in self.pythons}
        bare = []
        for sdk in walls:
            walls[sdk]["sandbox_wall_ms"] = []
        env = clean_env()
        for python in self.pythons.values():  # warm the page cache
            subprocess.run([python, "-c", "from e2b_code_interpreter import Sandbox"], check=True, env=env)
        for _ in range(reps):
            t0 = time.perf_counter()
            subprocess.run(["taskset", "-c", str(CLIENT_CPU), self.args.ours, "-c", "pass"], check=True, env=env)
            bare.append((time.perf_counter() - t0) * 1000)
            for sdk, python in self.pythons.items():
                for key, code in (("wall_ms", "import e2b_code_interpreter"), ("sandbox_wall_ms", "from e2b_code_interpreter import Sandbox")):
                    cmd = ["taskset", "-c", str(CLIENT_CPU), python, "-c", code]
                    t0 = time.perf_counter()
                    subprocess.run(cmd, check=True, env=env)
                    walls[sdk][key].append((time.perf_counter() - t0) * 1000)
        for _ in range(3 if self.quick else 5):
            for sdk, python in self.pythons.items():
                walls[sdk]["rss_mib"].append(client(python, None, "import")["rss_kib"] / 1024)
        self.compare("import_wall", walls, "wall_ms", "ms", 0.1)
        self.sdk["import_wall"]["python_bare_ms"] = statistics.median(bare)
        self.compare("import_rss", walls, "rss_mib", "MiB", 0.35)
        self.compare("import_Sandbox_wall", walls, "sandbox_wall_ms", "ms", None)

    def b_size(self) -> None:
        code = r"""
import importlib.metadata as md, json, os, re, sys
def norm(n): return re.sub(r"[-_.]+", "-", n).lower()
dists = {norm(d.metadata["Name"]): d for d in md.distributions()}
seen, todo, total, per = set(), ["e2b-code-interpreter", "e2b"], 0, {}
def walk(path):
    n = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        n += sum(os.path.getsize(os.path.join(root, f)) for f in files if not f.endswith(".pyc"))
    return n
for mod in ("e2b", "e2b_code_interpreter"):
    # editable/dev installs: the package directory itself
    m = __import__(mod)
    d = os.path.dirname(m.__file__)
    if "site-packages" not in d:
        per[mod] = walk(d); total += per[mod]; seen.add(norm(mod.replace("_", "-")))
while todo:
    name = norm(todo.pop())
    if name in seen or name not in dists:
        continue
    seen.add(name)
    dist = dists[name]
    size = 0
    for f in dist.files or []:
        if "__pycache__" in str(f) or str(f).endswith(".pyc"):
            continue
        p = dist.locate_file(f)
        if os.path.isfile(p):
            size += os.path.getsize(p)
    per[name] = size; total += size
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        todo.append(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
print(json.dumps({"total_mib": total / 2**20, "per_dist_mib": {k: v / 2**20 for k, v in per.items()}}))
"""
        data: dict = {}
        detail: dict = {}
        for sdk, python in self.pythons.items():
            out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout)
            data[sdk] = {"mib": [row["total_mib"]]}
            detail[sdk] = row["per_dist_mib"]
        self.compare("installed_size", data, "mib", "MiB", 0.3)
        self.sdk["installed_size"]["per_dist_mib"] = detail

    def b_run_code(self) -> None:
        reps, calls = (3, 100) if self.quick else (5, 300)
        data = interleaved(self.runners("run_code", calls=calls), reps)
        for sdk in data:
            data[sdk].pop("samples_ms", None)
        self.compare("run_code_cpu", data, "cpu_ms", "ms", 0.2)
        self.compare("run_code_wall", data, "wall_ms", "ms", None)

    def b_stream(self) -> None:
        reps = 2 if self.quick else 3
        data = interleaved(self.runners("stream", lines=100000, reps=2), reps)
        self.compare("stream_100k_wall", data, "wall_ms", "ms", 0.1)
        self.compare("stream_100k_cpu", data, "cpu_ms", "ms", None)

    def b_png(self) -> None:
        reps = 2 if self.quick else 3
        data = interleaved(self.runners("png", mb=5, reps=3), reps)
        self.compare("png_5mb_wall", data, "wall_ms", "ms", 0.5)
        self.compare("png_5mb_extra_peak", data, "extra_peak_mib", "MiB", 0.5)

    def b_async(self) -> None:
        reps = 2 if self.quick else 3
        data = interleaved(self.runners("async", concurrency=100, reps=5), reps)
        self.compare("async_100_wall", data, "wall_ms", "ms", 0.33)
        self.compare("async_100_cpu", data, "cpu_ms", "ms", None)

    def b_threads(self) -> None:
        reps, secs = (1, 3) if self.quick else (3, 5)
        data = interleaved(self.runners("threads", threads=8, seconds=secs), reps)
        self.compare("threads_8_throughput", data, "calls_per_s", "/s", 3, higher_better=True)
        self.compare("threads_8_cpu_per_call", data, "cpu_ms_per_call", "ms", None)

    def b_create_kill(self) -> None:
        reps = 2 if self.quick else 3
        data = interleaved(self.runners("create_kill", reps=5), reps)
        self.compare("create_kill_wall", data, "wall_ms", "ms", 0.5)

    # -- runtime (ours only, absolute) -----------------------------------------------------

    def b_runtime_create(self) -> None:
        row = client(self.args.ours, self.daemon, "first_result", reps=10 if self.quick else 30, pool="1")
        self.absolute("create_pool", row["create_ms"], "ms", 10)
        self.absolute("first_result_pool", row["first_result_ms"], "ms", 20)
        row = client(self.args.ours, self.daemon, "base_create", reps=10 if self.quick else 30)
        self.absolute("create_base_cold", row["create_ms"], "ms", 50)
        self.absolute("kill_base", row["kill_ms"], "ms", None)

    def b_first_result(self) -> None:
        cold = Daemon(self.args.ours, 0, self.tmp, "cold")
        try:
            row = client(self.args.ours, cold, "first_result", reps=5 if self.quick else 15, pool="0")
        finally:
            cold.stop()
        self.absolute("create_ci_cold", row["create_ms"], "ms", None)
        self.absolute("first_result_cold", row["first_result_ms"], "ms", 300)

    def b_js_first_result(self) -> None:
        row = client(self.args.ours, self.daemon, "first_result", reps=3 if self.quick else 10, pool="1", language="javascript")
        self.absolute("first_result_js_pool", row["first_result_ms"], "ms", None)

    def b_round_trip(self) -> None:
        row = client(self.args.ours, self.daemon, "run_code", calls=300 if self.quick else 1000)
        self.absolute("run_code_round_trip_p50", row["samples_ms"], "ms", 10)
        self.absolute("run_code_round_trip_p99", row["samples_ms"], "ms", 30, stat="p99")

    def b_commands_files(self) -> None:
        runs, big = (100, 10) if self.quick else (300, 30)
        row = client(self.args.ours, self.daemon, "commands_files", runs=runs, big_runs=big)
        self.absolute("commands_run_true", row["run_true_ms"], "ms", 5)
        self.absolute("write_read_4KiB", row["write_read_4KiB_ms"], "ms", 2)
        self.absolute("write_read_4MiB", row["write_read_4MiB_ms"], "ms", 30)

    def b_idle_memory(self) -> None:
        usage, rss = [], []
        for _ in range(2 if self.quick else 3):
            row = client(self.args.ours, self.daemon, "idle_memory")
            if not row:
                print("(idle_memory: no memory cgroup found)", file=sys.stderr)
                return
            usage.append(row["usage"] / 2**20)
            rss.append(row["rss"] / 2**20)
        self.absolute("idle_memory_cgroup_usage", usage, "MiB", 64)
        self.absolute("idle_memory_rss", rss, "MiB", 64)

    def b_many(self) -> None:
        count = 50 if self.quick else 200
        row = client(self.args.ours, self.daemon, "many", timeout=3600, count=count)
        self.runtime["many_live_sandboxes"] = {
            "unit": "",
            "target": 200,
            "median": row["answered"],
            "met": row["answered"] >= 200,
            **{k: v for k, v in row.items()},
        }

    # -- output ----------------------------------------------------------------------------

    def tables(self) -> str:
        lines = []
        if self.sdk:
            lines.append(
                f"{'SDK metric':<26} {'ours (IQR)':>26} {'upstream (IQR)':>26} {'no-SDK floor':>14} {'ratio':>7} {'target':>8}"
            )
            for name, row in self.sdk.items():
                unit = row["unit"]

                def cell(sdk):
                    if sdk not in row:
                        return "-"
                    s = row[sdk]
                    return f"{fmt(s['median'], unit)} ({fmt(s['q1'], unit).split()[0]}–{fmt(s['q3'], unit).split()[0]})"

                ratio = f"{row['ratio']:.3f}" if "ratio" in row else "-"
                target = "" if row["target"] is None else ("≥ " if row["higher_is_better"] else "≤ ") + str(row["target"])
                mark = "" if "met" not in row or row["target"] is None else ("  ok" if row["met"] else "  MISSED")
                floor = fmt(row["floor"]["median"], unit) if "floor" in row else "-"
                lines.append(f"{name:<26} {cell('ours'):>26} {cell('upstream'):>26} {floor:>14} {ratio:>7} {target:>8}{mark}")
        if self.runtime:
            lines.append("")
            lines.append(f"{'runtime metric':<26} {'p50':>10} {'IQR':>17} {'p99':>10} {'n':>5} {'target':>9}")
            for name, row in self.runtime.items():
                if name == "many_live_sandboxes":
                    lines.append(
                        f"{name:<26} {row['answered']:>10} answered of {row['created']} created "
                        f"(create {row['create_all_s']:.0f} s, kill {row['kill_all_s']:.0f} s)"
                        f"   target ≥ 200{'  ok' if row['met'] else '  MISSED'}"
                    )
                    continue
                unit = row["unit"]
                target = "" if row["target"] is None else f"≤ {row['target']}"
                mark = "" if row["target"] is None else ("  ok" if row["met"] else "  MISSED")
                iqr = f"{fmt(row['q1'], unit).split()[0]}–{fmt(row['q3'], unit).split()[0]}"
                lines.append(
                    f"{name:<26} {fmt(row['median'], unit):>10} {iqr:>17} {fmt(row['p99'], unit):>10} {row['n']:>5} {target:>9}{mark}"
                )
        return "\n".join(lines)


def markdown(sdk: dict) -> str:
    """The SDK rows as the Markdown table docs/benchmarks.md uses."""
    out = ["| metric | ours | upstream | no-SDK floor | ratio | target | |", "|---|---|---|---|---|---|---|"]
    for name, row in sdk.items():
        unit = row["unit"]
        cells = [fmt(row[k]["median"], unit) if k in row else "-" for k in ("ours", "upstream", "floor")]
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else "-"
        target = "" if row["target"] is None else ("≥ " if row["higher_is_better"] else "≤ ") + str(row["target"])
        met = "" if "met" not in row or row["target"] is None else ("met" if row["met"] else "**missed**")
        out.append(f"| {name} | {' | '.join(cells)} | {ratio} | {target} | {met} |")
    return "\n".join(out)


def machine() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "client_cpu": CLIENT_CPU,
        "daemon_cpu": DAEMON_CPU,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", default=str(REPO / ".venv/bin/python"))
    parser.add_argument("--upstream", default=str(REPO / ".venv-compat/bin/python"), help="'' to skip the official SDK")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; 50 sandboxes in `many`")
    parser.add_argument("--only", help="comma-separated scenario names: " + ", ".join(SCENARIOS))
    parser.add_argument("--skip", help="comma-separated scenario names to leave out")
    parser.add_argument("--pool-size", type=int, default=1, help="the main daemon's warm pool (default 1)")
    parser.add_argument("--json", help="write every sample and summary here")
    parser.add_argument("--markdown", action="store_true", help="also print the SDK table as Markdown")
    args = parser.parse_args()
    names = list(SCENARIOS)
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            parser.error(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    if args.skip:
        names = [n for n in names if n not in args.skip.split(",")]

    compile_ours(args.ours)
    with tempfile.TemporaryDirectory(prefix="e2b-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            for name in names:
                t0 = time.monotonic()
                print(f"[{name}] {SCENARIOS[name]} …", file=sys.stderr, flush=True)
                try:
                    getattr(bench, "b_" + name)()
                except Exception as e:  # one broken scenario must not lose the others
                    bench.failed[name] = f"{type(e).__name__}: {e}"
                    print(f"[{name}] FAILED: {e}", file=sys.stderr, flush=True)
                    continue
                print(f"[{name}] {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        finally:
            bench.close()
    print(bench.tables())
    if args.markdown and bench.sdk:
        print()
        print(markdown(bench.sdk))
    for name, error in bench.failed.items():
        print(f"{name}: FAILED ({error.splitlines()[0]})")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"machine": machine(), "sdk": bench.sdk, "runtime": bench.runtime, "failed": bench.failed}, indent=1
            )
        )


if __name__ == "__main__":
    sys.exit(main())
