"""Helpers of the security tier: the daemon handle and in-sandbox probes."""

from __future__ import annotations

import json
import pwd
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


from runtime_helpers import pid_alive, read_log, stop_process, wait_for_state  # noqa: E402,F401


def serve(
    cmd: list[str], state_dir: Path, env: dict, user: str | None
) -> subprocess.Popen:
    kwargs = {}
    if user is not None:
        pw = pwd.getpwnam(user)
        kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    with open(state_dir / "serve.log", "ab") as log:
        return subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
            **kwargs,
        )


def rmdir_tree(d: Path) -> None:
    if not d.is_dir():
        return
    for child in sorted(d.glob("*/"), key=lambda p: -len(p.parts)):
        try:
            child.rmdir()
        except OSError:
            pass
    try:
        d.rmdir()
    except OSError:
        pass


@dataclass
class Runtime:
    """One running daemon and how to reach it."""

    mode: str
    state_dir: Path
    pid: int
    url: str
    api_key: str
    cgroup_parent: str
    user: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def opts(self) -> dict:
        return {"api_key": self.api_key, "api_url": self.url, "sandbox_url": self.url}

    def create(self, template: str | None = None, **kw):
        from e2b_code_interpreter import Sandbox

        if template is not None:
            kw["template"] = template
        return Sandbox.create(**kw, **self.opts)

    def log(self) -> str:
        return read_log(self.state_dir)

    def run_dir(self) -> Path:
        return self.state_dir / "run"

    def cgroup_dirs(self, sandbox_id: str) -> dict[str, Path]:
        out = {}
        for ctl in ("memory", "pids", "cpu", "freezer", "unified"):
            d = CGROUP / ctl / self.cgroup_parent / sandbox_id
            if d.is_dir():
                out[ctl] = d
        return out

    def teardowns_done(self, limit: float = 10.0) -> None:
        """A kill answers once the sandbox is dead; its teardown (exit, mounts, cgroups,
        files) finishes in the background. Waits until the daemon reports none pending."""
        import time

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            status = self.api("GET", "/local/status")[1] or {}
            if status.get("pendingTeardowns", 0) == 0:
                return
            time.sleep(0.05)

    def api(self, method: str, path: str, body=None, key: str | None = "default"):
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if key == "default":
            key = self.api_key
        if key is not None:
            req.add_header("X-API-Key", key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")


def run(sbx, code: str, timeout: float = 60) -> str:
    """Runs `code` and returns stdout; fails the test on an execution error."""
    ex = sbx.run_code(code, timeout=timeout)
    assert ex.error is None, f"{ex.error.name}: {ex.error.value}\n{ex.error.traceback}"
    return "".join(ex.logs.stdout)


def probe(sbx, code: str, timeout: float = 60):
    """Runs `code`, which must print one JSON value last; returns it."""
    out = run(sbx, code, timeout).strip().splitlines()
    assert out, "the probe printed nothing"
    return json.loads(out[-1])


def latency(sbx) -> float:
    t0 = time.monotonic()
    ex = sbx.run_code("1 + 1", timeout=30)
    assert ex.error is None
    return time.monotonic() - t0


# Prelude for probes: `errno_of(fn)` returns "ok" or the errno name of the OSError raised;
# `sc(nr, *args)` makes a raw system call and returns "ok" or the errno name.
PRELUDE = r"""
import ctypes, errno, json, os, socket
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    ctypes.set_errno(0)
    r = _libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if r == -1:
        return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    return "ok"
def errno_of(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
"""
