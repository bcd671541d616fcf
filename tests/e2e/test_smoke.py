"""The real-sandbox smoke subset: create, run_code, files, commands and async, each once.

`scripts/test.sh` runs it (with `tests/unit`) on every CPython the machine has besides the
default one, whose run covers everything else. The session daemon is started from the
interpreter running the tests, so the sandboxes' kernels run that very Python: a daemon
started from 3.9 or 3.13 is checked here too."""

from __future__ import annotations

import sys

import pytest

from e2b import CommandExitException


def test_create_and_run_code_on_this_python(sandbox):
    sandbox.run_code("x = 1")
    execution = sandbox.run_code("x += 1; x")
    assert execution.text == "2"
    assert execution.error is None
    version = sandbox.run_code("import sys; '.'.join(map(str, sys.version_info[:2]))").text
    assert version == "{}.{}".format(*sys.version_info[:2])
    failed = sandbox.run_code("1 / 0")
    assert failed.error is not None and failed.error.name == "ZeroDivisionError"
    out = []
    sandbox.run_code("print('streamed')", on_stdout=lambda m: out.append(m.line))
    assert out == ["streamed\n"]


def test_files(sandbox):
    info = sandbox.files.write("/home/user/smoke/hello.txt", "hello")
    assert info.path == "/home/user/smoke/hello.txt"
    assert sandbox.files.read("/home/user/smoke/hello.txt") == "hello"
    assert sandbox.files.read("/home/user/smoke/hello.txt", format="bytes") == b"hello"
    assert [e.name for e in sandbox.files.list("/home/user/smoke")] == ["hello.txt"]
    assert sandbox.files.exists("/home/user/smoke/hello.txt")
    sandbox.files.remove("/home/user/smoke/hello.txt")
    assert not sandbox.files.exists("/home/user/smoke/hello.txt")


def test_commands(sandbox):
    result = sandbox.commands.run("echo $((6 * 7))")
    assert result.exit_code == 0 and result.stdout == "42\n"
    with pytest.raises(CommandExitException) as failed:
        sandbox.commands.run("echo oops >&2; exit 3")
    assert failed.value.exit_code == 3 and "oops" in failed.value.stderr
    handle = sandbox.commands.run("sleep 30", background=True)
    assert handle.pid > 0
    assert sandbox.commands.kill(handle.pid)


async def test_async(async_sandbox):
    execution = await async_sandbox.run_code("sum(range(10))")
    assert execution.text == "45"
    await async_sandbox.files.write("/tmp/async.txt", b"bytes")
    assert await async_sandbox.files.read("/tmp/async.txt") == "bytes"
    result = await async_sandbox.commands.run("cat /tmp/async.txt")
    assert result.stdout == "bytes"
    assert await async_sandbox.is_running()
