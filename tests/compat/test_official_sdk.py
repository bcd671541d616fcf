"""Compatibility tier: the official `e2b-code-interpreter` from PyPI, in its own virtualenv,
against our local runtime (configured the way `eval "$(e2b-local env)"` does)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

COMPAT_PYTHON = os.environ.get("E2B_COMPAT_PYTHON", str(Path(__file__).resolve().parents[2] / ".venv-compat/bin/python"))

pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(not Path(COMPAT_PYTHON).exists(), reason=f"official SDK venv missing: {COMPAT_PYTHON} (scripts/test.sh creates it)"),
]


def run_official(local_runtime, code: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env.update(E2B_API_URL=local_runtime["url"], E2B_SANDBOX_URL=local_runtime["url"], E2B_API_KEY=local_runtime["api_key"])
    return subprocess.run([COMPAT_PYTHON, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=timeout)


def test_official_sdk_is_really_upstream():
    out = subprocess.run([COMPAT_PYTHON, "-c", "import e2b, e2b_code_interpreter as ci; print(e2b.__file__); import importlib.metadata as m; print(m.version('e2b'))"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1] == "2.63.0"


def test_quickstart_through_official_sdk(local_runtime):
    out = run_official(local_runtime, """
        from e2b_code_interpreter import Sandbox
        sbx = Sandbox.create()
        sbx.run_code("x = 1")
        print(sbx.run_code("x += 1; x").text)
        assert sbx.kill() is True
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
