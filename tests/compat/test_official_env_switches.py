"""The official SDK (from PyPI) configured by the real `eval "$(e2b-local env)"` — with and
without an `E2B_LOCAL` left over for our SDK, which the official one does not read — runs the
quickstart and one call of each service against our runtime, and nothing leaves the machine:
`HTTPS_PROXY`/`HTTP_PROXY` point at a refusing recorder (loopback exempt), which must see no
request."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from official import _EXIT_WITHOUT_FINALISERS, COMPAT_PYTHON, requires_official_sdk

from traffic_recorder import TrafficRecorder

pytestmark = [pytest.mark.compat, requires_official_sdk]

E2B_LOCAL_CLI = str(Path(sys.executable).with_name("e2b-local"))

SCRIPT = textwrap.dedent(
    """
    import urllib.request
    from e2b import PtySize
    from e2b_code_interpreter import Sandbox

    with Sandbox.create() as sbx:
        sbx.run_code("x = 1")
        assert sbx.run_code("x += 1; x").text == "2"
        sbx.files.write("/home/user/env.txt", "env-payload")
        assert sbx.files.read("/home/user/env.txt") == "env-payload"
        assert sbx.commands.run("echo command-ok").stdout == "command-ok\\n"
        term = sbx.pty.create(PtySize(24, 80))
        assert sbx.pty.kill(term.pid) is True
        assert sbx.get_info().sandbox_id == sbx.sandbox_id
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        assert opener.open(sbx.download_url("/home/user/env.txt"), timeout=30).read() == b"env-payload"
    print("OK")
    """
)


@pytest.mark.parametrize("e2b_local", [None, "1"], ids=["E2B_LOCAL unset", "E2B_LOCAL=1"])
def test_official_sdk_with_the_output_of_e2b_local_env(local_runtime, e2b_local):
    with TrafficRecorder() as proxy:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("E2B_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        env.update(E2B_LOCAL_STATE_DIR=str(local_runtime["state_dir"]), HTTPS_PROXY=proxy.url, HTTP_PROXY=proxy.url,
                   https_proxy=proxy.url, http_proxy=proxy.url, NO_PROXY="127.0.0.1,localhost",
                   no_proxy="127.0.0.1,localhost", CLI=E2B_LOCAL_CLI, OFFICIAL=COMPAT_PYTHON,
                   SCRIPT=SCRIPT + _EXIT_WITHOUT_FINALISERS)
        if e2b_local is not None:
            env["E2B_LOCAL"] = e2b_local
        out = subprocess.run(["bash", "-c", 'set -e; eval "$("$CLI" env)"; exec "$OFFICIAL" -c "$SCRIPT"'],
                             env=env, capture_output=True, text=True, timeout=240)
        assert out.returncode == 0, out.stderr[-4000:]
        assert out.stdout.strip() == "OK"
        assert proxy.connections() == 0, proxy.requests()
