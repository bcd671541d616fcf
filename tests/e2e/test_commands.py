"""sandbox.commands against the real local runtime (sync API)."""

from __future__ import annotations

import time

import pytest
from e2b import (
    AuthenticationException,
    CommandExitException,
    CommandHandle,
    CommandResult,
    InvalidArgumentException,
    NotFoundException,
    Sandbox,
    SandboxException,
    TimeoutException,
)


@pytest.fixture(scope="module")
def sbx(local_runtime):
    sandbox = Sandbox.create(envs={"GLOBAL_VAR": "global"})
    try:
        yield sandbox
    finally:
        sandbox.kill()


def test_foreground_result_env_cwd_user(sbx):
    r = sbx.commands.run("echo out; echo err >&2")
    assert r == CommandResult(stdout="out\n", stderr="err\n", exit_code=0, error=None)
    r = sbx.commands.run(
        "echo $HOME $USER $LOGNAME; id -u; pwd; echo $GLOBAL_VAR $E2B_SANDBOX $MINE", envs={"MINE": "x"}
    )
    assert r.stdout.splitlines() == ["/home/user user user", "1000", "/home/user", "global true x"]
    assert sbx.commands.run("pwd", cwd="/tmp").stdout == "/tmp\n"
    sbx.files.make_dir("relative-cwd")
    assert sbx.commands.run("pwd", cwd="relative-cwd").stdout == "/home/user/relative-cwd\n"
    r = sbx.commands.run("id -u; echo $HOME; pwd", user="root")
    assert r.stdout == "0\n/root\n/root\n"
    assert sbx.commands.run("echo $GLOBAL_VAR", envs={"GLOBAL_VAR": "mine"}).stdout == "mine\n"
    with pytest.raises(InvalidArgumentException, match="cwd '/nope' does not exist"):
        sbx.commands.run("true", cwd="/nope")
    with pytest.raises(AuthenticationException, match="invalid username: 'mallory'"):
        sbx.commands.run("true", user="mallory")


def test_non_zero_exit_raises_command_exit_exception(sbx):
    with pytest.raises(CommandExitException) as info:
        sbx.commands.run("echo partial; echo boom >&2; exit 3")
    e = info.value
    assert (e.exit_code, e.stdout, e.stderr, e.error) == (3, "partial\n", "boom\n", "exit status 3")
    assert str(e) == "Command exited with code 3 and error:\nboom\n"
    assert isinstance(e, SandboxException)
    with pytest.raises(CommandExitException) as info:
        sbx.commands.run("echo boom >&2; exit 4", retain_output=False)
    assert str(info.value) == "Command exited with code 4"
    assert info.value.stderr is None
    r = sbx.commands.run("echo quiet", retain_output=False)
    assert (r.stdout, r.stderr, r.exit_code) == (None, None, 0)


def test_streaming_callbacks_and_utf8(sbx):
    out, err = [], []
    r = sbx.commands.run(
        "for i in 1 2 3; do echo line$i; sleep 0.05; done; printf '\\xc3' ; printf '\\xa9\\n'; echo e >&2",
        on_stdout=out.append,
        on_stderr=err.append,
    )
    assert "".join(out) == r.stdout == "line1\nline2\nline3\né\n"
    assert len(out) >= 3
    assert "".join(err) == "e\n"
    r = sbx.commands.run("printf '\\xff\\n'")
    assert r.stdout == "\ufffd\n"


def test_timeout_kills_the_process(sbx):
    t0 = time.monotonic()
    with pytest.raises(TimeoutException):
        sbx.commands.run("echo $$ > /tmp/timeout.pid; sleep 600", timeout=1)
    assert time.monotonic() - t0 < 10
    time.sleep(0.3)
    r = sbx.commands.run("kill -0 $(cat /tmp/timeout.pid) 2>/dev/null && echo alive || echo gone")
    assert r.stdout == "gone\n"
    # timeout=0: no limit.
    assert sbx.commands.run("sleep 1.2; echo ok", timeout=0).stdout == "ok\n"


def test_background_handle(sbx):
    h = sbx.commands.run("echo started; sleep 0.3; echo done", background=True)
    assert isinstance(h, CommandHandle) and h.pid > 0
    assert h.pid in [p.pid for p in sbx.commands.list()]
    info = next(p for p in sbx.commands.list() if p.pid == h.pid)
    assert (info.cmd, info.args, info.envs, info.cwd, info.tag) == (
        "/bin/bash",
        ["-l", "-c", "echo started; sleep 0.3; echo done"],
        {},
        None,
        None,
    )
    outputs = list(h)
    assert outputs == [("started\n", None, None), ("done\n", None, None)]
    assert h.wait().stdout == "started\ndone\n"

    h = sbx.commands.run("sleep 600", background=True)
    assert h.kill() is True
    with pytest.raises(CommandExitException) as info:
        h.wait()
    assert (info.value.exit_code, info.value.error) == (-1, "signal: killed")
    assert sbx.commands.kill(h.pid) is False
    assert sbx.commands.kill(999_999) is False


def test_stdin_send_close_and_stream_input(sbx):
    h = sbx.commands.run("cat", background=True, stdin=True)
    h.send_stdin("hello ")
    sbx.commands.send_stdin(h.pid, b"world\n")
    sbx.commands.stream_input(h.pid, ["a", b"b", "c\n"])
    h.close_stdin()
    assert h.wait().stdout == "hello world\nabc\n"
    with pytest.raises(InvalidArgumentException, match="wrap it in a list"):
        sbx.commands.stream_input(h.pid, "abc")
    with pytest.raises(NotFoundException):
        sbx.commands.stream_input(999_999, ["x"])
    with pytest.raises(NotFoundException):
        sbx.commands.send_stdin(999_999, "x")
    # Without stdin=True, stdin is /dev/null.
    assert sbx.commands.run("cat; echo end").stdout == "end\n"
    h = sbx.commands.run("sleep 5", background=True)
    with pytest.raises(SandboxException, match="stdin not enabled or closed"):
        h.send_stdin("x")
    h.kill()


def test_disconnect_keeps_the_process_and_connect_reattaches(sbx):
    h = sbx.commands.run("for i in $(seq 1 20); do echo tick$i; sleep 0.1; done", background=True)
    h.disconnect()
    time.sleep(0.2)
    assert h.pid in [p.pid for p in sbx.commands.list()], "a disconnect must not kill the process"
    again = sbx.commands.connect(h.pid)
    result = again.wait()
    assert "tick20\n" in result.stdout and "tick1\n" not in result.stdout
    # The exit stays known for a while: a late connect still gets the end.
    late = sbx.commands.connect(h.pid)
    assert late.wait().exit_code == 0
    with pytest.raises(NotFoundException):
        sbx.commands.connect(999_999)


def test_connect_timeout_ends_the_stream_not_the_process(sbx):
    h = sbx.commands.run("sleep 3; echo finished", background=True)
    c = sbx.commands.connect(h.pid, timeout=0.5)
    with pytest.raises(TimeoutException):
        c.wait()
    assert h.wait().stdout == "finished\n"


def test_a_killed_sandbox_is_reported_as_not_running(local_runtime):
    from e2b import SandboxNotRunningException

    sandbox = Sandbox.create()
    h = sandbox.commands.run("sleep 600", background=True)
    sandbox.files.write("x.txt", "x")
    Sandbox.kill(sandbox.sandbox_id)
    with pytest.raises(SandboxNotRunningException):
        h.wait()
    with pytest.raises(SandboxNotRunningException):
        sandbox.files.read("x.txt")
    with pytest.raises(SandboxNotRunningException):
        sandbox.commands.run("true")
    assert sandbox.is_running() is False
