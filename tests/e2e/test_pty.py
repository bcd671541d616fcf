"""sandbox.pty against the real local runtime: a real terminal (sync and async)."""

from __future__ import annotations

import asyncio
import time

import pytest
from e2b import AsyncSandbox, CommandExitException, PtySize, Sandbox, SandboxException


def collect_until(handle, needle: bytes, timeout: float = 20.0) -> bytes:
    """Reads PTY output from a sync handle until `needle` shows up."""
    buf = b""
    deadline = time.monotonic() + timeout
    for _, _, pty in handle:
        if pty:
            buf += pty
        if needle in buf:
            return buf
        assert time.monotonic() < deadline, buf
    raise AssertionError(f"stream ended before {needle!r}: {buf!r}")


def test_pty_is_a_real_terminal(local_runtime):
    sbx = Sandbox.create()
    try:
        term = sbx.pty.create(PtySize(rows=30, cols=100), envs={"MY": "var"})
        # $((…)) keeps the marker out of the terminal's echo of the command line.
        sbx.pty.send_stdin(
            term.pid,
            b"tty; stty size; echo $TERM $LANG $LC_ALL $MY; printf '\\033[1;32mGREEN\\033[0m\\n'; echo m$((40+2))\n",
        )
        out = collect_until(term, b"m42\r\n").decode()
        assert "/dev/pts/" in out
        assert "30 100" in out
        assert "xterm-256color C.UTF-8 C.UTF-8 var" in out
        assert "\x1b[1;32mGREEN\x1b[0m" in out
        sbx.pty.resize(term.pid, PtySize(rows=50, cols=160))
        sbx.pty.stream_input(term.pid, [b"stty size; ", "echo r$((1+1))\n"])
        assert "50 160" in collect_until(term, b"r2\r\n").decode()
        assert term.pid in [p.pid for p in sbx.commands.list()]
        with pytest.raises(SandboxException, match="Sending stdin is not supported"):
            term.send_stdin("x")
        # Reconnect from a second handle, then exit the shell.
        again = sbx.pty.connect(term.pid)
        term.disconnect()
        sbx.pty.send_stdin(term.pid, b"exit 5\n")
        with pytest.raises(CommandExitException) as info:
            again.wait()
        assert info.value.exit_code == 5
        assert sbx.pty.kill(term.pid) is False

        root = sbx.pty.create(PtySize(24, 80), user="root", cwd="/tmp")
        sbx.pty.send_stdin(root.pid, b"echo $(id -u)@$(pwd)x\n")
        assert "0@/tmpx" in collect_until(root, b"0@/tmpx").decode()
        assert sbx.pty.kill(root.pid) is True
    finally:
        sbx.kill()


async def test_async_pty(local_runtime):
    sbx = await AsyncSandbox.create()
    try:
        chunks: list = []
        seen = asyncio.Event()

        async def on_data(data: bytes):
            chunks.append(data)
            if b"done7" in b"".join(chunks):
                seen.set()

        term = await sbx.pty.create(PtySize(24, 90), on_data=on_data)
        await sbx.pty.send_stdin(term.pid, b"stty size; echo done$((3+4))\n")
        await asyncio.wait_for(seen.wait(), 20)
        assert b"24 90" in b"".join(chunks)
        await sbx.pty.resize(term.pid, PtySize(40, 120))
        chunks.clear()
        seen.clear()
        async with sbx.pty.stream_input(term.pid) as handle:
            await handle.send("stty size; echo done$((3+4))\n")
        await asyncio.wait_for(seen.wait(), 20)
        assert b"40 120" in b"".join(chunks)
        assert await sbx.pty.kill(term.pid) is True
        with pytest.raises(CommandExitException):
            await term.wait()
    finally:
        await sbx.kill()
