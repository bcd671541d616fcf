"""Helpers to run a real local runtime (`e2b-local serve`) in tests and stop it by PID.

Imported by `tests/conftest.py` and by tests that need a daemon of their own; a module with
a unique name, because pytest loads every `conftest.py` under the same name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wait_for_state(state_dir: Path, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> dict:
    """Waits until the daemon wrote its state file and answers `/health`."""
    deadline = time.monotonic() + timeout
    state_file = state_dir / "state.json"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode}: {read_log(state_dir)}")
        if state_file.exists():
            try:
                state = json.loads(state_file.read_text())
                with urllib.request.urlopen(state["url"] + "/health", timeout=1) as resp:
                    if resp.status in (200, 204):
                        return state
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.05)
    raise RuntimeError(f"daemon did not come up within {timeout}s: {read_log(state_dir)}")


def read_log(state_dir: Path) -> str:
    for name in ("daemon.log", "serve.log"):
        log = state_dir / name
        if log.exists():
            return log.read_text()[-4000:]
    return "(no log)"


def start_daemon(state_dir: Path, args: tuple[str, ...] = (), timeout: float = 30.0) -> tuple[subprocess.Popen, dict]:
    """Starts `e2b-local serve ARGS` with its own state directory; its output goes to
    `serve.log` there."""
    state_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, E2B_LOCAL_STATE_DIR=str(state_dir))
    log = open(state_dir / "serve.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "e2b._local", "serve", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    try:
        return proc, wait_for_state(state_dir, proc, timeout)
    except BaseException:
        stop_process(proc.pid)
        raise


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_process(pid: int, grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; by PID only."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:
            if not pid_alive(pid):
                return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


