"""Languages through real Jupyter kernels (sync API): JavaScript/TypeScript (Deno), bash
(bash_kernel), R and Java when their kernelspecs are installed — plus, for every language,
create-time and per-call env vars (escaped), cwd per context, and interrupt on timeout."""

from __future__ import annotations

import os
import time

import pytest
from ci_support import (
    ALL_LANGUAGES,
    daemon_opts,
    FOREVER,
    NASTY_VALUE,
    PRINT_CWD,
    PRINT_FOO,
    language_params,
    requires_bash,
    requires_java,
    requires_js,
    requires_r,
    stdout,
)

from e2b_code_interpreter import Sandbox, TimeoutException


@requires_js
def test_javascript(sandbox):
    execution = sandbox.run_code("console.log('Hello, World!')", language="js")
    assert execution.logs.stdout == ["Hello, World!\n"]
    assert execution.error is None
    sandbox.run_code("let counter = 40", language="javascript")
    assert sandbox.run_code("counter + 2", language="javascript").text == "42"
    assert sandbox.run_code("process.cwd()", language="js").text == "/home/user"
    err = sandbox.run_code("throw new Error('boom')", language="js").error
    assert err is not None and err.name == "Error" and err.value == "boom"


@requires_js
def test_javascript_esm_imports_and_top_level_await(sandbox):
    execution = sandbox.run_code("import { readFileSync } from 'node:fs'\nconsole.log(typeof readFileSync)", language="js")
    assert execution.logs.stdout == ["function\n"]
    assert sandbox.run_code("await Promise.resolve('Hello World!')", language="js").text == "Hello World!"


@requires_js
def test_typescript(sandbox):
    execution = sandbox.run_code("const message: string = 'Hello, World!'; console.log(message)", language="ts")
    assert execution.logs.stdout == ["Hello, World!\n"]
    assert sandbox.run_code("function twice(n: number): number { return 2 * n }\ntwice(21)", language="typescript").text == "42"


@requires_bash
def test_bash(sandbox):
    execution = sandbox.run_code("echo hello; pwd", language="bash")
    assert stdout(execution) == "hello\n/home/user\n"
    sandbox.run_code("GREETING=kept", language="bash")
    assert stdout(sandbox.run_code("echo $GREETING", language="bash")) == "kept\n"


@requires_r
def test_r(sandbox):
    execution = sandbox.run_code('print("Hello, World!")', language="r")
    assert execution.logs.stdout == ['[1] "Hello, World!"\n']


@requires_java
def test_java(sandbox):
    execution = sandbox.run_code('System.out.println("Hello, World!");', language="java")
    assert stdout(execution).strip() == "Hello, World!"


@pytest.mark.parametrize("language", language_params(*ALL_LANGUAGES))
def test_cwd_per_context(sandbox, language):
    assert stdout(sandbox.run_code(PRINT_CWD[language], language=language)).strip() == "/home/user"
    context = sandbox.create_code_context(cwd="/tmp", language=language)
    assert context.cwd == "/tmp"
    assert stdout(sandbox.run_code(PRINT_CWD[language], context=context)).strip() == "/tmp"


@pytest.mark.parametrize("language", language_params(*ALL_LANGUAGES))
def test_per_call_envs_are_escaped_and_restored(sandbox, language):
    execution = sandbox.run_code(PRINT_FOO[language], language=language, envs={"FOO": NASTY_VALUE})
    assert execution.error is None, execution.error
    assert stdout(execution) == NASTY_VALUE + "\n"
    after = sandbox.run_code(PRINT_FOO[language], language=language)
    assert stdout(after) == "unset\n", "per-call envs are removed after the call"


@pytest.mark.parametrize("language", language_params(*ALL_LANGUAGES))
def test_create_time_envs_reach_every_language(local_runtime, language):
    sbx = Sandbox.create(envs={"FOO": "from create"})
    try:
        assert stdout(sbx.run_code(PRINT_FOO[language], language=language)) == "from create\n"
        overridden = sbx.run_code(PRINT_FOO[language], language=language, envs={"FOO": "per call"})
        assert stdout(overridden) == "per call\n"
        # Restored to the create-time value, not removed.
        assert stdout(sbx.run_code(PRINT_FOO[language], language=language)) == "from create\n"
    finally:
        sbx.kill()


@pytest.mark.parametrize("language", language_params(*ALL_LANGUAGES))
def test_timeout_interrupts_the_kernel(sandbox, language):
    sandbox.run_code(PRINT_CWD[language], language=language)  # kernel started
    with pytest.raises(TimeoutException):
        sandbox.run_code(FOREVER[language], language=language, timeout=2)
    start = time.monotonic()
    after = sandbox.run_code(PRINT_CWD[language], language=language, timeout=30)
    elapsed = time.monotonic() - start
    assert stdout(after).strip() == "/home/user"
    # The issue asks for "within a second"; leave room for a loaded 2-core CI machine.
    assert elapsed < 3, f"the next call took {elapsed:.2f} s"


@requires_bash
def test_any_installed_kernelspec_serves_its_language(tmp_path, monkeypatch):
    """The way R, Java, … kernels are found: a kernelspec in the sandbox Python's Jupyter
    paths serves its language (here a kernelspec running bash_kernel, under a made-up
    language name), over TCP, with its own interrupt mode."""
    import json
    import shutil
    import sys
    from pathlib import Path

    from runtime_helpers import start_daemon, stop_process

    name = f"e2btest{os.getpid()}"
    spec_dir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": ["python", "-m", "bash_kernel", "-f", "{connection_file}"],
        "display_name": "test kernel",
        "language": name.upper(),
        "interrupt_mode": "signal",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    proc = None
    try:
        # A daemon of its own: kernelspecs are looked up once per daemon.
        monkeypatch.setenv("E2B_LOCAL_POOL_SIZE", "0")
        proc, state = start_daemon(tmp_path / "state")
        sbx = Sandbox.create(**daemon_opts(state))
        try:
            assert stdout(sbx.run_code("echo generic; pwd", language=f" {name.upper()} ")) == "generic\n/home/user\n"
            context = sbx.create_code_context(language=name, cwd="/tmp")
            assert context.language == name
            assert stdout(sbx.run_code("pwd", context=context)) == "/tmp\n"
            # No env snippet is known for this language.
            refused = sbx.run_code("echo x", language=name, envs={"A": "b"})
            assert refused.error is not None and refused.error.name == "EnvVarsUnsupported"
            with pytest.raises(TimeoutException):
                sbx.run_code("sleep 1000", language=name, timeout=2)
            start = time.monotonic()
            assert stdout(sbx.run_code("echo back", language=name, timeout=30)) == "back\n"
            assert time.monotonic() - start < 3
        finally:
            sbx.kill()
    finally:
        shutil.rmtree(spec_dir, ignore_errors=True)
        if proc is not None:
            stop_process(proc.pid)
