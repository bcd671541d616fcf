"""run_code against a real local sandbox (sync API)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from e2b_code_interpreter import ExecutionError, OutputMessage, Result, TimeoutException


def test_state_is_kept_across_calls(sandbox):
    sandbox.run_code("x = 1")
    execution = sandbox.run_code("x += 1; x")
    assert execution.text == "2"
    assert execution.results[0].is_main_result


def test_stdout_and_stderr(sandbox):
    execution = sandbox.run_code("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert "".join(execution.logs.stdout) == "out\n"
    assert "".join(execution.logs.stderr) == "err\n"
    assert execution.error is None
    assert execution.text is None


def test_text_is_none_without_a_result(sandbox):
    execution = sandbox.run_code("y = 5")
    assert execution.results == []
    assert execution.text is None


def test_result_text_strips_repr_quotes(sandbox):
    execution = sandbox.run_code("'hello'")
    assert execution.text == "hello"
    assert isinstance(execution.results[0], Result)
    assert "text" in list(execution.results[0].formats())


def test_error_has_name_value_traceback(sandbox):
    execution = sandbox.run_code("1 / 0")
    assert isinstance(execution.error, ExecutionError)
    assert execution.error.name == "ZeroDivisionError"
    assert execution.error.value == "division by zero"
    assert "ZeroDivisionError" in execution.error.traceback
    assert execution.results == []


def test_execution_count_increments(sandbox):
    first = sandbox.run_code("1").execution_count
    second = sandbox.run_code("2").execution_count
    assert isinstance(first, int) and second == first + 1


def test_callbacks_fire_in_order_while_the_cell_runs(sandbox):
    events: list[tuple[str, object, float]] = []
    start = time.monotonic()
    code = (
        "import sys, time\n"
        "print('first', flush=True)\n"
        "time.sleep(1.5)\n"
        "print('second', file=sys.stderr, flush=True)\n"
        "raise_it = 2\n"
        "raise_it"
    )
    execution = sandbox.run_code(
        code,
        on_stdout=lambda m: events.append(("stdout", m, time.monotonic() - start)),
        on_stderr=lambda m: events.append(("stderr", m, time.monotonic() - start)),
        on_result=lambda r: events.append(("result", r, time.monotonic() - start)),
    )
    total = time.monotonic() - start
    kinds = [kind for kind, _, _ in events]
    assert kinds == ["stdout", "stderr", "result"]
    stdout_msg = events[0][1]
    assert isinstance(stdout_msg, OutputMessage)
    assert stdout_msg.line == "first\n" and stdout_msg.error is False
    assert events[1][1].error is True
    assert events[2][1].text == "2"
    # The first line arrived while the cell was still sleeping.
    assert events[0][2] < total - 1.0, (events, total)
    assert execution.text == "2"


def test_on_error_callback(sandbox):
    errors = []
    sandbox.run_code("raise ValueError('boom')", on_error=errors.append)
    assert len(errors) == 1 and errors[0].name == "ValueError" and errors[0].value == "boom"


def test_timeout_raises_and_the_next_call_works(sandbox):
    start = time.monotonic()
    with pytest.raises(TimeoutException):
        sandbox.run_code("import time; time.sleep(30)", timeout=1)
    assert time.monotonic() - start < 10
    start = time.monotonic()
    assert sandbox.run_code("1 + 1").text == "2"
    assert time.monotonic() - start < 5


def test_sync_calls_from_several_threads(sandbox):
    """Each thread's sync calls run on that thread's own runtime and connections; state is
    shared through the one kernel, and every result comes back to the thread that asked."""
    contexts = [sandbox.create_code_context() for _ in range(4)]
    errors: list = []

    def work(i):
        try:
            sandbox.run_code(f"n = {i}", context=contexts[i])
            for _ in range(10):
                assert sandbox.run_code("n", context=contexts[i]).text == str(i)
        except BaseException as e:  # reported below: a failed assert in a thread is silent
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sandbox.run_code("2 + 2").text == "4"


def test_ctrl_c_interrupts_a_sync_run_code(sandbox):
    """SIGINT during a blocking run_code raises KeyboardInterrupt promptly; the request is
    dropped, so the server interrupts the kernel and the next call does not wait."""
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sandbox.run_code("import time; time.sleep(30)")
    finally:
        timer.cancel()
    assert time.monotonic() - start < 5
    start = time.monotonic()
    assert sandbox.run_code("1 + 1").text == "2"
    assert time.monotonic() - start < 10


def test_code_runs_as_user_in_home(sandbox):
    execution = sandbox.run_code("import os, getpass; print(os.getcwd(), getpass.getuser(), os.getuid())")
    assert execution.logs.stdout == ["/home/user user 1000\n"]


def test_create_time_envs_are_visible(local_runtime):
    from e2b_code_interpreter import Sandbox

    with Sandbox.create(envs={"GREETING": "hi there"}) as sbx:
        execution = sbx.run_code("import os; os.environ['GREETING'], os.environ['E2B_SANDBOX']")
        assert execution.text == "('hi there', 'true')"


def test_tmp_and_home_are_writable_system_dirs_are_not(sandbox):
    code = (
        "import os\n"
        "for p in ['/tmp/f', '/home/user/f']:\n"
        "    open(p, 'w').write('x')\n"
        "print(oct(os.stat('/tmp').st_mode & 0o7777))\n"
        "for p in ['/usr/f', '/etc/f', '/f']:\n"
        "    try:\n"
        "        open(p, 'w')\n"
        "        print('writable', p)\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
    )
    execution = sandbox.run_code(code)
    assert execution.error is None, execution.error
    words = "".join(execution.logs.stdout).split()
    assert words[0] == "0o1777"
    assert len(words) == 4 and set(words[1:]) <= {"OSError", "PermissionError"}, words
