"""The same behaviour through AsyncSandbox."""

from __future__ import annotations

import asyncio
import time

import pytest

from e2b_code_interpreter import (
    AsyncSandbox,
    InvalidArgumentException,
    SandboxNotFoundException,
    TimeoutException,
)


async def test_state_kept_and_text(async_sandbox):
    await async_sandbox.run_code("x = 1")
    execution = await async_sandbox.run_code("x += 1; x")
    assert execution.text == "2"


async def test_async_context_manager(local_runtime):
    async with await AsyncSandbox.create() as sbx:
        sandbox_id = sbx.sandbox_id
        assert await sbx.is_running()
    assert await AsyncSandbox.kill(sandbox_id) is False


async def test_logs_error_and_count(async_sandbox):
    execution = await async_sandbox.run_code("import sys; print('o'); print('e', file=sys.stderr); 1/0")
    assert execution.logs.stdout == ["o\n"] and execution.logs.stderr == ["e\n"]
    assert execution.error.name == "ZeroDivisionError"
    assert isinstance(execution.execution_count, int)


async def test_sync_and_async_callbacks_in_order(async_sandbox):
    seen = []

    async def on_stderr(msg):
        await asyncio.sleep(0)
        seen.append(("stderr", msg.line))

    await async_sandbox.run_code(
        "import sys, time\nprint('a', flush=True)\ntime.sleep(0.3)\nprint('b', file=sys.stderr, flush=True)\n3",
        on_stdout=lambda m: seen.append(("stdout", m.line)),
        on_stderr=on_stderr,
        on_result=lambda r: seen.append(("result", r.text)),
    )
    assert seen == [("stdout", "a\n"), ("stderr", "b\n"), ("result", "3")]


async def test_timeout_then_next_call(async_sandbox):
    with pytest.raises(TimeoutException):
        await async_sandbox.run_code("import time; time.sleep(30)", timeout=1)
    start = time.monotonic()
    assert (await async_sandbox.run_code("1 + 1")).text == "2"
    assert time.monotonic() - start < 5


async def test_concurrent_sandboxes(local_runtime):
    sandboxes = await asyncio.gather(*(AsyncSandbox.create() for _ in range(3)))
    try:
        results = await asyncio.gather(*(s.run_code(f"{i} * 10") for i, s in enumerate(sandboxes)))
        assert [r.text for r in results] == ["0", "10", "20"]
    finally:
        await asyncio.gather(*(s.kill() for s in sandboxes))


async def test_errors(async_sandbox, local_runtime):
    contexts = await async_sandbox.list_code_contexts()
    assert "python" in [c.language for c in contexts]
    with pytest.raises(InvalidArgumentException):
        await async_sandbox.run_code("1", language="python", context=contexts[0])
    with pytest.raises(SandboxNotFoundException):
        await AsyncSandbox.connect("nosuchsandbox0000000")
    killed = await AsyncSandbox.create()
    await killed.kill()
    with pytest.raises(TimeoutException):
        await killed.run_code("1")
