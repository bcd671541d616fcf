"""`e2b-local serve --debug` serves the SDKs' debug mode (docs/protocol.md#debug-mode): with
`E2B_DEBUG=true` our SDK makes no API call on create, uses `debug_sandbox_id`, and talks to
envd on localhost:49983 and to the code interpreter on localhost:49999 — which the daemon
routes to a real sandbox; `get_info` goes to the API on localhost:3000."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from runtime_helpers import REPO, start_daemon, stop_process

sys.path.insert(0, str(REPO / "tests" / "compat"))
from official import _EXIT_WITHOUT_FINALISERS, COMPAT_PYTHON  # noqa: E402

DEBUG_PORTS = (49983, 49999, 3000)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


SCRIPT = r"""
import json
from e2b_code_interpreter import Sandbox

sandbox = Sandbox.create()
execution = sandbox.run_code("x = 6 * 7; x")
sandbox.files.write("/home/user/debug.txt", "through port 49983")
result = {
    "id": sandbox.sandbox_id,
    "envd_version": str(sandbox._envd_version),
    "text": execution.text,
    "read": sandbox.files.read("/home/user/debug.txt"),
    "command": sandbox.commands.run("echo $E2B_TEMPLATE_ID").stdout.strip(),
    "template": sandbox.get_info().template_id,
    "killed": sandbox.kill(),
    "again": Sandbox.connect("debug_sandbox_id").run_code("x").text,
}
print(json.dumps(result))
"""


def test_sdk_in_debug_mode_runs_code_in_the_debug_sandbox(tmp_path):
    taken = [p for p in DEBUG_PORTS if _port_taken(p)]
    if taken:
        pytest.skip(f"the debug-mode ports must be free on 127.0.0.1; taken: {taken}")
    state_dir = tmp_path / "state"
    proc, state = start_daemon(state_dir, ("--debug", "--pool-size", "0"), timeout=60)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
        # get_info still calls the API (localhost:3000), which wants the daemon's key.
        env.update(E2B_DEBUG="true", E2B_API_KEY=state["api_key"], E2B_LOCAL_STATE_DIR=str(state_dir))
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result == {
            "id": "debug_sandbox_id",
            "envd_version": "99.99.99",
            "text": "42",
            "read": "through port 49983",
            "command": "code-interpreter-v1",
            "template": "code-interpreter-v1",
            "killed": True,  # debug mode: no call, the sandbox lives on
            "again": "42",
        }
        log = (state_dir / "serve.log").read_text()
        assert "debug" in log.lower()

        # The official SDK's debug mode reaches the same sandbox (its state is still there).
        if os.path.exists(COMPAT_PYTHON):
            official = (
                "from e2b_code_interpreter import Sandbox\n"
                "sandbox = Sandbox.create()\n"
                "print(sandbox.sandbox_id, sandbox.run_code('x').text, sandbox.files.read('/home/user/debug.txt'))\n"
            ) + _EXIT_WITHOUT_FINALISERS
            out = subprocess.run([COMPAT_PYTHON, "-c", official], env=env, capture_output=True, text=True, timeout=180)
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip().splitlines()[-1] == "debug_sandbox_id 42 through port 49983"
    finally:
        stop_process(proc.pid)
