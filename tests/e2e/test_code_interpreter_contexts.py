"""Code contexts against a real local sandbox (sync API): defaults, create/list/remove/restart,
language/context selection, one execution at a time per context."""

from __future__ import annotations

import threading
import time

import pytest
from ci_support import HAS_JS, requires_js, stdout

from e2b_code_interpreter import Context, InvalidArgumentException, NotFoundException, SandboxException


def test_default_contexts_are_listed(sandbox):
    contexts = sandbox.list_code_contexts()
    languages = [c.language for c in contexts]
    assert languages.count("python") == 1
    # The JavaScript default exists only when a JavaScript kernel (Deno) is installed.
    assert languages.count("javascript") == (1 if HAS_JS else 0)
    assert all(isinstance(c, Context) and c.cwd == "/home/user" and c.id for c in contexts)
    # Listing again gives the same contexts.
    assert [c.id for c in sandbox.list_code_contexts()] == [c.id for c in contexts]


def test_default_python_context_is_the_language_default(sandbox):
    sandbox.run_code("shared = 41")
    assert sandbox.run_code("shared + 1", language="python").text == "42"
    python = next(c for c in sandbox.list_code_contexts() if c.language == "python")
    assert sandbox.run_code("shared", context=python).text == "41"


def test_create_context_with_cwd_and_run_in_it(sandbox):
    context = sandbox.create_code_context(cwd="/tmp", language="python", request_timeout=60)
    assert (context.language, context.cwd) == ("python", "/tmp")
    assert stdout(sandbox.run_code("import os; print(os.getcwd())", context=context)) == "/tmp\n"
    assert context.id in [c.id for c in sandbox.list_code_contexts()]


def test_contexts_are_independent(sandbox):
    context = sandbox.create_code_context()
    sandbox.run_code("x = 1")
    execution = sandbox.run_code("x", context=context)
    assert execution.error is not None
    assert execution.error.name == "NameError"
    assert execution.error.value == "name 'x' is not defined"


def test_remove_context_by_object_and_by_id(sandbox):
    first = sandbox.create_code_context()
    second = sandbox.create_code_context()
    sandbox.remove_code_context(first)
    sandbox.remove_code_context(second.id)
    ids = [c.id for c in sandbox.list_code_contexts()]
    assert first.id not in ids and second.id not in ids
    with pytest.raises(NotFoundException):
        sandbox.run_code("1", context=first)
    with pytest.raises(NotFoundException):
        sandbox.remove_code_context(first)


def test_restart_context_loses_state_and_keeps_id(sandbox):
    context = sandbox.create_code_context(cwd="/tmp")
    sandbox.run_code("kept = 1", context=context)
    sandbox.restart_code_context(context)
    execution = sandbox.run_code("import os; print(os.getcwd()); kept", context=context)
    assert execution.error is not None and execution.error.name == "NameError"
    assert stdout(execution) == "/tmp\n", "the restarted kernel keeps the context's cwd"
    sandbox.restart_code_context(context.id)
    assert sandbox.run_code("1 + 1", context=context).text == "2"
    with pytest.raises(NotFoundException):
        sandbox.restart_code_context("no-such-context")


def test_language_and_context_together_are_refused(sandbox):
    context = sandbox.create_code_context(language="python")
    with pytest.raises(InvalidArgumentException):
        sandbox.run_code("1", language="python", context=context)


def test_unknown_language_names_what_is_installed(sandbox):
    with pytest.raises(SandboxException) as err:
        sandbox.run_code("1", language="cobol")
    message = str(err.value)
    assert "cobol" in message and "installed: python" in message
    with pytest.raises(SandboxException, match="cobol"):
        sandbox.create_code_context(language="cobol")


def test_language_names_are_normalised(sandbox):
    assert sandbox.run_code("40 + 2", language=" Python ").text == "42"
    context = sandbox.create_code_context(language="PYTHON")
    assert context.language == "python"


@requires_js
def test_language_aliases(sandbox):
    js = sandbox.run_code("console.log(typeof process)", language="JS")
    assert js.logs.stdout == ["object\n"]
    assert sandbox.create_code_context(language="ts").language == "typescript"
    # `js` and `javascript` share the default context.
    sandbox.run_code("globalThis.marker = 7", language="js")
    assert sandbox.run_code("console.log(globalThis.marker)", language="javascript").logs.stdout == ["7\n"]


def test_one_execution_at_a_time_per_context(sandbox):
    """A second call in a busy context waits for the first; another context does not."""
    other = sandbox.create_code_context()
    results: dict[str, object] = {}

    def slow():
        results["slow"] = sandbox.run_code("import time; time.sleep(2); order = ['slow']")

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)
    start = time.monotonic()
    assert sandbox.run_code("1", context=other).text == "1"
    independent = time.monotonic() - start
    queued = sandbox.run_code("order.append('queued'); order")
    thread.join(timeout=60)
    assert results["slow"].error is None
    assert queued.text == "['slow', 'queued']"
    assert independent < 1.5, "a different context is not blocked by the busy one"
