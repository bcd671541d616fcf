"""Shared fixtures: a real local runtime (`e2b-local serve`) private to the test session.

The daemon gets its own state directory (`E2B_LOCAL_STATE_DIR`), so tests never touch a
developer's daemon, and it is stopped by PID at the end of the session.
"""

from __future__ import annotations

import os

import pytest

from runtime_helpers import REPO, pid_alive, read_log, start_daemon, stop_process, wait_for_state  # noqa: F401

# Tests run against the local runtime unless a test says otherwise.
for _var in ("E2B_API_KEY", "E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL", "E2B_DEBUG", "E2B_LOCAL"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def local_runtime(tmp_path_factory):
    """A running daemon private to this session; the SDK finds it via E2B_LOCAL_STATE_DIR."""
    state_dir = tmp_path_factory.mktemp("e2b-local-state")
    proc, state = start_daemon(state_dir)
    previous = os.environ.get("E2B_LOCAL_STATE_DIR")
    os.environ["E2B_LOCAL_STATE_DIR"] = str(state_dir)
    try:
        yield {"state_dir": state_dir, "pid": proc.pid, **state}
    finally:
        if previous is None:
            os.environ.pop("E2B_LOCAL_STATE_DIR", None)
        else:
            os.environ["E2B_LOCAL_STATE_DIR"] = previous
        stop_process(proc.pid)


@pytest.fixture
def sandbox(local_runtime):
    from e2b_code_interpreter import Sandbox

    sbx = Sandbox.create()
    try:
        yield sbx
    finally:
        sbx.kill()


@pytest.fixture
async def async_sandbox(local_runtime):
    from e2b_code_interpreter import AsyncSandbox

    sbx = await AsyncSandbox.create()
    try:
        yield sbx
    finally:
        await sbx.kill()
