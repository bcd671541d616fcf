"""The typed surface: the `e2b._native` stubs agree with the compiled module (mypy's
stubtest), and a program written against the public API type-checks under mypy --strict with
the packages' inline annotations and `py.typed` markers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytest.importorskip("mypy", reason="mypy is installed by scripts/test.sh")


def mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_native_stubs_match_the_extension(tmp_path):
    out = mypy("mypy.stubtest", "e2b._native", "--mypy-config-file", str(HERE / "mypy.ini"), cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_typed_usage_passes_mypy_strict(tmp_path):
    out = mypy("mypy", "--config-file", str(HERE / "mypy.ini"), "--strict", "--cache-dir", str(tmp_path / "cache"),
               str(HERE / "typed_usage.py"), cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
