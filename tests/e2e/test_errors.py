"""Bad input gets the upstream exception classes."""

from __future__ import annotations

import pytest

from e2b_code_interpreter import (
    AuthenticationException,
    Context,
    InvalidArgumentException,
    Sandbox,
    SandboxException,
)


def test_language_and_context_together(sandbox):
    context = Context(context_id="any", language="python", cwd="/home/user")
    with pytest.raises(InvalidArgumentException, match="context or language, but not both"):
        sandbox.run_code("1", language="python", context=context)


def test_malformed_key_in_cloud_mode(local_runtime, monkeypatch):
    # Cloud code path (an API key is set), pointed at the local daemon: the server rejects the
    # key and the SDK raises what upstream raises for a 401.
    monkeypatch.setenv("E2B_API_URL", local_runtime["url"])
    monkeypatch.setenv("E2B_SANDBOX_URL", local_runtime["url"])
    monkeypatch.setenv("E2B_API_KEY", "not-a-valid-key")
    with pytest.raises(AuthenticationException) as info:
        Sandbox.create()
    assert not isinstance(info.value, SandboxException)


def test_cloud_mode_with_the_real_key_works(local_runtime, monkeypatch):
    monkeypatch.setenv("E2B_API_URL", local_runtime["url"])
    monkeypatch.setenv("E2B_SANDBOX_URL", local_runtime["url"])
    monkeypatch.setenv("E2B_API_KEY", local_runtime["api_key"])
    with Sandbox.create() as sbx:
        assert sbx.run_code("6 * 7").text == "42"


def test_local_disabled_without_key(monkeypatch):
    monkeypatch.setenv("E2B_LOCAL", "0")
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    with pytest.raises(AuthenticationException, match="API key is required"):
        Sandbox.create()


def test_code_interpreter_v0_name():
    with pytest.raises(ImportError) as info:
        from e2b_code_interpreter import CodeInterpreter  # noqa: F401
    message = str(info.value)
    assert "Sandbox" in message and "with Sandbox() as sandbox" in message and "cwd" in message
    import e2b_code_interpreter

    with pytest.raises(ImportError, match="from e2b_code_interpreter import Sandbox"):
        e2b_code_interpreter.CodeInterpreter  # noqa: B018
