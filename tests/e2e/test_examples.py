"""Every example in `examples/` runs as is against the session's local runtime (each in a fresh
interpreter, as a user runs it) and prints what it promises. `official_sdk.py` runs under the
official SDK from PyPI (`.venv-compat`), pointed at the daemon as `eval "$(e2b-local env)"`
does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_support import requires_data
from runtime_helpers import REPO

EXAMPLES = REPO / "examples"
sys.path.insert(0, str(REPO / "tests" / "compat"))
from official import requires_official_sdk, run_official  # noqa: E402


def run_example(local_runtime, name: str, *args: str, cwd: Path | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env["E2B_LOCAL_STATE_DIR"] = str(local_runtime["state_dir"])
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env, cwd=cwd,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, f"{name}: {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout.splitlines()


def test_every_example_is_tested():
    tested = {"quickstart.py", "chart_png.py", "async_agents.py", "files_and_commands.py", "official_sdk.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_quickstart(local_runtime):
    assert run_example(local_runtime, "quickstart.py")[-1] == "2"


@requires_data
def test_chart_png(local_runtime, tmp_path):
    lines = run_example(local_runtime, "chart_png.py", "sales.png", cwd=tmp_path)
    png = (tmp_path / "sales.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert lines[-1] == "saved sales.png; chart: bar 'Sign-ups per month'"


def test_async_agents(local_runtime):
    lines = run_example(local_runtime, "async_agents.py", "3")
    assert len(lines) == 4, lines
    for seed, line in enumerate(lines[:3]):
        assert line.startswith(f"seed={seed} mean="), line
        assert line.endswith(" bytes written)"), line
    assert lines[3].startswith("3 agents in ")


def test_files_and_commands(local_runtime):
    lines = run_example(local_runtime, "files_and_commands.py")
    assert lines[0] == "files: ['a.bin', 'b.txt', 'words.txt']"
    assert "  stream: 2 apple" in lines
    assert "exit code: 0" in lines
    assert any(line.startswith("failed as expected: 2 ls: cannot access '/does-not-exist'") for line in lines)
    assert "background: SHOUT THIS" in lines
    assert "counts.txt: ['2', 'apple', '1', 'pear', '1', 'kiwi', '1', 'fig']" in lines
    assert lines[-1] == "a.bin: b'\\x00\\x01\\x02'"


@requires_official_sdk
def test_official_sdk(local_runtime):
    source = (EXAMPLES / "official_sdk.py").read_text()
    out = run_official(local_runtime, f"import sys\nsys.argv = ['official_sdk.py']\n{source}")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("sdk: ") and ".venv-compat" in lines[0]
    assert lines[1].startswith("sandbox: ") and lines[1].endswith(" code-interpreter-v1")
    assert lines[2] == "run_code: {}.{}.{}".format(*sys.version_info[:3])
    assert lines[3:] == ["files: hello from the official SDK", "commands: 5"]


@pytest.mark.parametrize("name", ["quickstart.py", "chart_png.py", "async_agents.py", "files_and_commands.py",
                                  "official_sdk.py"])
def test_example_has_a_docstring_that_says_how_to_run_it(name):
    source = (EXAMPLES / name).read_text()
    assert source.startswith('"""'), name
