"""Running the official SDK (e2b 2.63.0 + e2b-code-interpreter 2.11.5 from PyPI, in its own
virtualenv) against our local runtime, configured as `eval "$(e2b-local env)"` does."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

COMPAT_PYTHON = os.environ.get(
    "E2B_COMPAT_PYTHON", str(Path(__file__).resolve().parents[2] / ".venv-compat/bin/python")
)

requires_official_sdk = pytest.mark.skipif(
    not Path(COMPAT_PYTHON).exists(),
    reason=f"official SDK venv missing: {COMPAT_PYTHON} (scripts/test.sh creates it)",
)

# The official SDK's HTTP stack (pyqwest) can abort the interpreter while it shuts down
# (a tokio worker calls into Python during finalisation: SIGABRT after the script's work is
# done; seen ~1 run in 12 with an async watch stream). A script that got this far succeeded,
# so it leaves without running finalisers.
_EXIT_WITHOUT_FINALISERS = "\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)\n"


def run_official(local_runtime: dict, code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Runs `code` with the official SDK against the session's daemon."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("E2B_")}
    env.update(
        E2B_API_URL=local_runtime["url"], E2B_SANDBOX_URL=local_runtime["url"], E2B_API_KEY=local_runtime["api_key"]
    )
    script = textwrap.dedent(code) + _EXIT_WITHOUT_FINALISERS
    return subprocess.run([COMPAT_PYTHON, "-c", script], env=env, capture_output=True, text=True, timeout=timeout)
