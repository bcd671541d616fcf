"""sandbox.commands against the real local runtime (async API)."""

from __future__ import annotations

import asyncio

import pytest
from e2b import (
    AsyncCommandHandle,
    AsyncCommandInputHandle,
    AsyncSandbox,
    CommandExitException,
    NotFoundException,
    SandboxException,
    TimeoutException,
)


async def test_async_commands(local_runtime):
    sbx = await AsyncSandbox.create()
    try:
        r = await sbx.commands.run("echo out; echo err >&2")
        assert (r.stdout, r.stderr, r.exit_code, r.error) == ("out\n", "err\n", 0, None)
        assert (await sbx.commands.run("id -un", user="root")).stdout == "root\n"
        with pytest.raises(CommandExitException) as info:
            await sbx.commands.run("echo bad >&2; exit 2")
        assert str(info.value) == "Command exited with code 2 and error:\nbad\n"

        out, err = [], []

        async def async_cb(text):
            await asyncio.sleep(0)
            err.append(text)

        r = await sbx.commands.run(
            "for i in 1 2 3; do echo $i; echo e$i >&2; done", on_stdout=out.append, on_stderr=async_cb
        )
        assert "".join(out) == "1\n2\n3\n" and "".join(err) == "e1\ne2\ne3\n"

        h = await sbx.commands.run("cat", background=True, stdin=True)
        assert isinstance(h, AsyncCommandHandle) and h.exit_code is None
        await h.send_stdin("ab")
        await sbx.commands.send_stdin(h.pid, b"cd\n")
        await h.close_stdin()
        result = await h.wait()
        assert result.stdout == "abcd\n" and h.stdout == "abcd\n" and h.exit_code == 0

        h = await sbx.commands.run("cat", background=True, stdin=True)
        handle = sbx.commands.stream_input(h.pid)
        assert isinstance(handle, AsyncCommandInputHandle)
        async with handle:
            await handle.send("x")
            await handle.send(b"y\n")
        with pytest.raises(SandboxException, match="Cannot send input after the input handle is closed"):
            await handle.send("z")
        await sbx.commands.close_stdin(h.pid)
        assert (await h.wait()).stdout == "xy\n"
        bad = sbx.commands.stream_input(999_999)
        await bad.send("x")
        with pytest.raises(NotFoundException):
            await bad.close()

        h = await sbx.commands.run("for i in $(seq 1 20); do echo t$i; sleep 0.1; done", background=True)
        await h.disconnect()
        assert h.pid in [p.pid for p in await sbx.commands.list()]
        seen = []
        c = await sbx.commands.connect(h.pid, on_stdout=seen.append)
        r = await c.wait()
        assert "t20\n" in "".join(seen) and r.exit_code == 0

        h = await sbx.commands.run("sleep 600", background=True)
        assert await h.kill() is True
        with pytest.raises(CommandExitException):
            await h.wait()
        assert await sbx.commands.kill(h.pid) is False
        with pytest.raises(TimeoutException):
            await sbx.commands.run("sleep 600", timeout=0.5)
        r = await sbx.commands.run("echo x", retain_output=False)
        assert r.stdout is None
    finally:
        await sbx.kill()
