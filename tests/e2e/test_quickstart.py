"""The README quickstart on a machine with no daemon running: the SDK starts one, the
example prints 2, and `e2b-local stop` stops it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from runtime_helpers import REPO, pid_alive

E2B_LOCAL = str(Path(sys.executable).with_name("e2b-local"))


def test_quickstart_autostarts_the_daemon_and_stop_stops_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env["E2B_LOCAL_STATE_DIR"] = str(tmp_path / "state")
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py")],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "2"

    state = json.loads((tmp_path / "state" / "state.json").read_text())
    assert (tmp_path / "state" / "state.json").stat().st_mode & 0o777 == 0o600
    assert pid_alive(state["pid"])

    env_out = subprocess.run([E2B_LOCAL, "env"], env=env, capture_output=True, text=True, timeout=30)
    assert env_out.returncode == 0, env_out.stderr
    lines = dict(line.removeprefix("export ").split("=", 1) for line in env_out.stdout.strip().splitlines())
    assert lines == {"E2B_API_URL": state["url"], "E2B_SANDBOX_URL": state["url"], "E2B_API_KEY": state["api_key"]}

    stop = subprocess.run([E2B_LOCAL, "stop"], env=env, capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr
    deadline = time.monotonic() + 10
    while pid_alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(state["pid"])
    assert not (tmp_path / "state" / "state.json").exists()
    status = subprocess.run([E2B_LOCAL, "status"], env=env, capture_output=True, text=True, timeout=30)
    assert status.returncode != 0
