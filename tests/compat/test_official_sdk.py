"""Compatibility tier: the official `e2b-code-interpreter` from PyPI, in its own virtualenv,
against our local runtime (configured the way `eval "$(e2b-local env)"` does)."""

from __future__ import annotations

import subprocess

import pytest
from official import COMPAT_PYTHON, requires_official_sdk, run_official

pytestmark = [pytest.mark.compat, requires_official_sdk]


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
