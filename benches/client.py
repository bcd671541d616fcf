"""One benchmark scenario, run by `benches/run.py` under either SDK's Python (ours or the
official one — the scenarios use only the public upstream API, so the same code measures
both). Prints one JSON line with the measurements.

    python benches/client.py SCENARIO [key=value ...]

The process pins itself to the CPU in ``BENCH_CPU`` (the harness puts the daemon on the
other one). The daemon is reached through ``E2B_API_URL`` / ``E2B_SANDBOX_URL`` /
``E2B_API_KEY``, set by the harness, for both SDKs alike.
"""

from __future__ import annotations

import json
import os
import sys
import time

if os.environ.get("BENCH_CPU"):
    os.sched_setaffinity(0, {int(os.environ["BENCH_CPU"])})


def vm(field: str) -> int:
    """A `/proc/self/status` field in KiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> None:
    """Resets VmHWM to the current RSS (Linux `clear_refs` 5)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def wait_pool(timeout: float = 120) -> None:
    """Waits until the daemon's warm pool has a sandbox ready (our daemon's /local/status)."""
    import urllib.request

    url = os.environ["E2B_API_URL"] + "/local/status"
    req = urllib.request.Request(url, headers={"X-API-Key": os.environ["E2B_API_KEY"]})
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status = json.loads(resp.read())
        if status.get("poolSize", 0) == 0 or status.get("warmPool", 0) >= 1:
            return
        if time.monotonic() > deadline:
            raise SystemExit("the warm pool did not refill")
        time.sleep(0.01)


def cgroup_memory(sandbox_id: str) -> dict:
    """The sandbox cgroup's memory (cgroup v1 `memory` or v2), in bytes."""
    import glob

    for d in glob.glob(f"/sys/fs/cgroup/memory/**/{sandbox_id}", recursive=True) + glob.glob(
        f"/sys/fs/cgroup/**/{sandbox_id}", recursive=True
    ):
        stat = {}
        for name in ("memory.stat",):
            try:
                with open(os.path.join(d, name)) as f:
                    stat = dict((k, int(v)) for k, v in (line.split() for line in f))
            except OSError:
                continue
        for usage in ("memory.usage_in_bytes", "memory.current"):
            try:
                with open(os.path.join(d, usage)) as f:
                    value = int(f.read())
            except OSError:
                continue
            rss = stat.get("total_rss", stat.get("rss", stat.get("anon", 0)))
            return {"usage": value, "rss": rss, "cache": stat.get("total_cache", stat.get("file", 0))}
    return {}


# ---------------------------------------------------------------- SDK scenarios (both SDKs)


def s_import(**_):
    rss0 = vm("VmRSS")
    t0 = time.perf_counter()
    import e2b_code_interpreter  # noqa: F401

    wall = (time.perf_counter() - t0) * 1000
    return {"import_ms_inproc": wall, "rss_kib": vm("VmRSS"), "rss_before_kib": rss0}


def s_run_code(calls=200, **_):
    from e2b_code_interpreter import Sandbox

    calls = int(calls)
    sbx = Sandbox.create()
    try:
        for _ in range(20):
            sbx.run_code("1")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        samples = []
        for _ in range(calls):
            t = time.perf_counter()
            assert sbx.run_code("1").text == "1"
            samples.append((time.perf_counter() - t) * 1000)
        cpu1, wall1 = time.process_time(), time.perf_counter()
    finally:
        sbx.kill()
    return {"cpu_ms": (cpu1 - cpu0) * 1000 / calls, "wall_ms": (wall1 - wall0) * 1000 / calls, "samples_ms": samples}


def s_stream(lines=100000, reps=3, **_):
    from e2b_code_interpreter import Sandbox

    lines, reps = int(lines), int(reps)
    code = f"for i in range({lines}):\n    print(i)"
    sbx = Sandbox.create()
    walls, cpus = [], []
    try:
        sbx.run_code("1")
        for _ in range(reps):
            c0, t0 = time.process_time(), time.perf_counter()
            execution = sbx.run_code(code)
            walls.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
            got = sum(chunk.count("\n") for chunk in execution.logs.stdout)
            assert got == lines, got
            del execution
    finally:
        sbx.kill()
    return {"wall_ms": walls, "cpu_ms": cpus}


def s_png(mb=5, reps=5, **_):
    from e2b_code_interpreter import Sandbox

    size, reps = int(float(mb) * (1 << 20)), int(reps)
    sbx = Sandbox.create()
    walls, extra = [], []
    try:
        setup = sbx.run_code(
            "import base64, os\nfrom IPython.display import display\n"
            f"_png = base64.b64encode(b'\\x89PNG\\r\\n\\x1a\\n' + os.urandom({size} - 8)).decode()"
        )
        assert setup.error is None, setup.error
        code = "display({'image/png': _png}, raw=True)"
        sbx.run_code("display({'image/png': 'iVBORw0KGgo='}, raw=True)")  # warm, with a tiny PNG
        for i in range(reps):
            reset_peak()
            base = vm("VmRSS")
            t0 = time.perf_counter()
            execution = sbx.run_code(code)
            walls.append((time.perf_counter() - t0) * 1000)
            if i == 0:
                # Only the first large result counts: later ones can reuse memory the
                # allocator kept from the one before, which would hide their cost.
                extra.append((vm("VmHWM") - base) / 1024)
            assert len(execution.results[0].png) > size, len(execution.results[0].png)
            del execution
    finally:
        sbx.kill()
    return {"wall_ms": walls, "extra_peak_mib": extra}


def s_async(concurrency=100, reps=5, **_):
    import asyncio

    from e2b_code_interpreter import AsyncSandbox

    concurrency, reps = int(concurrency), int(reps)

    async def main():
        sbx = await AsyncSandbox.create()
        walls, cpus = [], []
        try:
            for _ in range(10):
                await sbx.run_code("1")
            for _ in range(reps):
                c0, t0 = time.process_time(), time.perf_counter()
                results = await asyncio.gather(*(sbx.run_code("1") for _ in range(concurrency)))
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
                assert all(r.text == "1" for r in results)
        finally:
            await sbx.kill()
        return {"wall_ms": walls, "cpu_ms": cpus}

    return asyncio.run(main())


def s_threads(threads=8, seconds=5, **_):
    import threading

    from e2b_code_interpreter import Sandbox

    threads, seconds = int(threads), float(seconds)
    sandboxes = [Sandbox.create() for _ in range(threads)]
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def work(i):
        sbx = sandboxes[i]
        for _ in range(5):
            sbx.run_code("1")
        start.wait()
        n = 0
        while time.perf_counter() < stop_at[0]:
            assert sbx.run_code("1").text == "1"
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    try:
        stop_at[0] = time.perf_counter() + 3600
        start.wait()
        t0, c0 = time.perf_counter(), time.process_time()
        stop_at[0] = t0 + seconds
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
    finally:
        for sbx in sandboxes:
            sbx.kill()
    total = sum(counts)
    return {"calls_per_s": total / wall, "calls": total, "cpu_ms_per_call": cpu * 1000 / max(total, 1)}


def s_create_kill(reps=10, template="", **_):
    from e2b_code_interpreter import Sandbox

    reps = int(reps)
    kw = {"template": template} if template else {}
    sbx = Sandbox.create(**kw)  # warm the client
    sbx.kill()
    walls, creates = [], []
    for _ in range(reps):
        wait_pool()
        t0 = time.perf_counter()
        sbx = Sandbox.create(**kw)
        t1 = time.perf_counter()
        sbx.kill()
        t2 = time.perf_counter()
        walls.append((t2 - t0) * 1000)
        creates.append((t1 - t0) * 1000)
    return {"wall_ms": walls, "create_ms": creates}


# ---------------------------------------------------------------- the floor (no SDK)
#
# The same operations through the thinnest client there is: `http.client` on one kept-alive
# connection, the response read whole and not parsed. What remains is the daemon, the
# sandbox and the kernel — the part of each wall time that no SDK can remove. The sandbox
# is created with our SDK (creation is not what these measure, except in `raw_create_kill`).


class Raw:
    """Raw HTTP/1.1 to the local daemon: control plane and one sandbox's code interpreter."""

    def __init__(self):
        import http.client
        import urllib.parse

        url = urllib.parse.urlsplit(os.environ["E2B_API_URL"])
        self.host, self.port = url.hostname, url.port
        self.key = os.environ["E2B_API_KEY"]
        self.conn = self.new()

    def new(self):
        """A connected keep-alive connection with TCP_NODELAY (as both SDKs set it)."""
        import http.client
        import socket

        conn = http.client.HTTPConnection(self.host, self.port)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(self, method, path, body=None, headers=None, conn=None):
        conn = conn or self.conn
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        payload = response.read()
        assert response.status < 300, (response.status, payload[:300])
        return payload

    def create(self, template="code-interpreter-v1"):
        body = {"templateID": template, "timeout": 300}
        created = json.loads(self.request("POST", "/sandboxes", body, {"X-API-Key": self.key}))
        return created["sandboxID"], created.get("envdAccessToken")

    def kill(self, sandbox_id):
        self.request("DELETE", f"/sandboxes/{sandbox_id}", headers={"X-API-Key": self.key})

    def execute(self, sandbox, code, conn=None) -> bytes:
        sandbox_id, token = sandbox
        headers = {"E2b-Sandbox-Id": sandbox_id, "E2b-Sandbox-Port": "49999"}
        if token:
            headers["X-Access-Token"] = token
        return self.request("POST", "/execute", {"code": code}, headers, conn)


def _raw_sandbox(raw):
    sandbox = raw.create()
    raw.execute(sandbox, "1")
    return sandbox


def s_raw_run_code(calls=200, **_):
    """The least a client can do per call: one `sendall` of a prepared request, `recv` until
    the chunked body's last chunk. Its CPU is the kernel's share (loopback TCP, one wake-up
    per piece the server sends) that every client pays."""
    import socket

    raw = Raw()
    sandbox_id, token = _raw_sandbox(raw)
    body = b'{"code": "1"}'
    head = (
        "POST /execute HTTP/1.1\r\nHost: localhost\r\n"
        f"E2b-Sandbox-Id: {sandbox_id}\r\nE2b-Sandbox-Port: 49999\r\n"
        + (f"X-Access-Token: {token}\r\n" if token else "")
        + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    request = head.encode() + body
    sock = socket.create_connection((raw.host, raw.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def once():
        sock.sendall(request)
        received = b""
        while not received.endswith(b"\r\n0\r\n\r\n"):
            piece = sock.recv(65536)
            assert piece, "connection closed"
            received += piece
        assert b"chunked" in received[:1000].lower() and b'"result"' in received

    try:
        for _ in range(20):
            once()
        calls = int(calls)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            once()
        cpu1, wall1 = time.process_time(), time.perf_counter()
    finally:
        sock.close()
        raw.kill(sandbox_id)
    return {"cpu_ms": (cpu1 - cpu0) * 1000 / calls, "wall_ms": (wall1 - wall0) * 1000 / calls}


def s_raw_stream(lines=100000, reps=3, **_):
    raw = Raw()
    sandbox = _raw_sandbox(raw)
    code = f"for i in range({int(lines)}):\n    print(i)"
    walls, cpus = [], []
    try:
        for _ in range(int(reps)):
            c0, t0 = time.process_time(), time.perf_counter()
            body = raw.execute(sandbox, code)
            walls.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
            assert str(int(lines) - 1).encode() in body
    finally:
        raw.kill(sandbox[0])
    return {"wall_ms": walls, "cpu_ms": cpus}


def s_raw_png(mb=5, reps=5, **_):
    raw = Raw()
    sandbox = _raw_sandbox(raw)
    size = int(float(mb) * (1 << 20))
    walls = []
    try:
        raw.execute(
            sandbox,
            "import base64, os\nfrom IPython.display import display\n"
            f"_png = base64.b64encode(b'\\x89PNG\\r\\n\\x1a\\n' + os.urandom({size} - 8)).decode()",
        )
        code = "display({'image/png': _png}, raw=True)"
        raw.execute(sandbox, code)
        for _ in range(int(reps)):
            t0 = time.perf_counter()
            body = raw.execute(sandbox, code)
            walls.append((time.perf_counter() - t0) * 1000)
            assert len(body) > size
    finally:
        raw.kill(sandbox[0])
    return {"wall_ms": walls}


def s_raw_async(concurrency=100, reps=5, **_):
    """100 requests in flight at once, each on its own connection (threads)."""
    from concurrent.futures import ThreadPoolExecutor

    raw = Raw()
    sandbox = _raw_sandbox(raw)
    concurrency = int(concurrency)
    conns = [raw.new() for _ in range(concurrency)]
    walls, cpus = [], []
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda c: raw.execute(sandbox, "1", c), conns))  # connect + warm
            for _ in range(int(reps)):
                c0, t0 = time.process_time(), time.perf_counter()
                bodies = list(pool.map(lambda c: raw.execute(sandbox, "1", c), conns))
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append((time.process_time() - c0) * 1000)
                assert len(bodies) == concurrency
    finally:
        raw.kill(sandbox[0])
    return {"wall_ms": walls, "cpu_ms": cpus}


def s_raw_threads(threads=8, seconds=5, **_):
    import threading

    threads, seconds = int(threads), float(seconds)
    raw = Raw()
    sandboxes = [_raw_sandbox(raw) for _ in range(threads)]
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    stop_at = [time.perf_counter() + 3600]

    def work(i):
        conn = raw.new()
        start.wait()
        n = 0
        while time.perf_counter() < stop_at[0]:
            raw.execute(sandboxes[i], "1", conn)
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    try:
        start.wait()
        t0 = time.perf_counter()
        stop_at[0] = t0 + seconds
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        for sandbox in sandboxes:
            raw.kill(sandbox[0])
    return {"calls_per_s": sum(counts) / wall, "calls": sum(counts)}


def s_raw_create_kill(reps=10, **_):
    raw = Raw()
    raw.kill(raw.create()[0])
    walls = []
    for _ in range(int(reps)):
        wait_pool()
        t0 = time.perf_counter()
        sandbox_id, _token = raw.create()
        raw.kill(sandbox_id)
        walls.append((time.perf_counter() - t0) * 1000)
    return {"wall_ms": walls}


# ---------------------------------------------------------------- runtime scenarios (ours)


def s_first_result(reps=10, pool="1", language="", **_):
    from e2b_code_interpreter import Sandbox

    reps = int(reps)
    kw = {"language": language} if language else {}
    walls, creates = [], []
    for i in range(reps + 1):
        if pool == "1":
            wait_pool()
        else:
            time.sleep(0.3)  # let the previous sandbox's teardown finish
        t0 = time.perf_counter()
        sbx = Sandbox.create()
        t1 = time.perf_counter()
        try:
            execution = sbx.run_code("1 + 1", **kw)
            t2 = time.perf_counter()
            assert execution.text == "2", execution
        finally:
            sbx.kill()
        if i:  # the first one warms the page cache
            walls.append((t2 - t0) * 1000)
            creates.append((t1 - t0) * 1000)
    return {"first_result_ms": walls, "create_ms": creates}


def s_base_create(reps=20, **_):
    from e2b import Sandbox

    reps = int(reps)
    creates, kills = [], []
    for i in range(reps + 1):
        time.sleep(0.1)
        t0 = time.perf_counter()
        sbx = Sandbox.create(template="base")
        t1 = time.perf_counter()
        sbx.kill()
        t2 = time.perf_counter()
        if i:
            creates.append((t1 - t0) * 1000)
            kills.append((t2 - t1) * 1000)
    return {"create_ms": creates, "kill_ms": kills}


def s_commands_files(runs=300, big_runs=30, **_):
    from e2b import Sandbox

    runs, big_runs = int(runs), int(big_runs)
    sbx = Sandbox.create()
    out = {}
    try:
        for _ in range(20):
            sbx.commands.run("true")
        t = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sbx.commands.run("true")
            t.append((time.perf_counter() - t0) * 1000)
        out["run_true_ms"] = t
        for name, size, n in (("write_read_4KiB_ms", 4 << 10, runs), ("write_read_4MiB_ms", 4 << 20, big_runs)):
            data = os.urandom(size)
            for _ in range(5):
                sbx.files.write("bench.bin", data)
                sbx.files.read("bench.bin", format="bytes")
            t = []
            for _ in range(n):
                t0 = time.perf_counter()
                sbx.files.write("bench.bin", data)
                got = sbx.files.read("bench.bin", format="bytes")
                t.append((time.perf_counter() - t0) * 1000)
                assert len(got) == size
            out[name] = t
    finally:
        sbx.kill()
    return out


def s_idle_memory(settle=3, **_):
    from e2b_code_interpreter import Sandbox

    sbx = Sandbox.create()
    try:
        assert sbx.run_code("1").text == "1"
        time.sleep(float(settle))
        return cgroup_memory(sbx.sandbox_id)
    finally:
        sbx.kill()


def s_many(count=200, **_):
    import resource
    from concurrent.futures import ThreadPoolExecutor

    from e2b_code_interpreter import Sandbox

    count = int(count)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sandboxes, failures = [], []
    t0 = time.perf_counter()

    def make(_):
        try:
            sbx = Sandbox.create(timeout=900)
            sandboxes.append(sbx)
        except Exception as e:  # counted, not raised: the bench reports how many lived
            failures.append(f"create: {type(e).__name__}: {e}"[:300])

    with ThreadPoolExecutor(4) as ex:
        list(ex.map(make, range(count)))
    created = time.perf_counter() - t0
    answered = 0
    for sbx in sandboxes:
        try:
            if sbx.run_code("1 + 1").text == "2":
                answered += 1
        except Exception as e:
            failures.append(f"run_code: {type(e).__name__}: {e}"[:300])
    mem = []
    for sbx in sandboxes[:: max(1, len(sandboxes) // 10)]:
        m = cgroup_memory(sbx.sandbox_id)
        if m:
            mem.append(m["usage"])
    t1 = time.perf_counter()
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda s: s.kill(), sandboxes))
    return {
        "created": len(sandboxes),
        "answered": answered,
        "failures": failures[:10],
        "create_all_s": created,
        "kill_all_s": time.perf_counter() - t1,
        "sample_usage_bytes": mem,
    }


def main() -> None:
    name = sys.argv[1]
    kwargs = dict(arg.split("=", 1) for arg in sys.argv[2:])
    result = globals()["s_" + name](**kwargs)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    # The official SDK's transport (pyqwest) can abort at interpreter shutdown; the result is out.
    os._exit(0)


if __name__ == "__main__":
    main()
