"""The public surface: every exported name, submodule paths, constructors, dual methods,
properties and the not-yet-implemented modules — all without any network."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys

import e2b
import e2b_code_interpreter
import pytest
from e2b import AsyncSandbox, ConnectionConfig, InvalidArgumentException, Sandbox


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("E2B_API_KEY", "E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL", "E2B_DEBUG", "E2B_LOCAL"):
        monkeypatch.delenv(var, raising=False)


def test_every_name_in_all_is_importable():
    assert len(set(e2b.__all__)) == 133
    for name in e2b.__all__:
        assert getattr(e2b, name) is not None, name
    namespace: dict = {}
    exec("from e2b import *", namespace)
    assert set(e2b.__all__) <= set(namespace)


def test_code_interpreter_exports():
    for name in e2b.__all__:
        assert hasattr(e2b_code_interpreter, name), name
    from e2b_code_interpreter import (  # noqa: F401
        AsyncSandbox,
        Context,
        Execution,
        ExecutionError,
        Logs,
        MIMEType,
        OutputHandler,
        OutputMessage,
        Result,
        RunCodeLanguage,
        Sandbox,
    )

    assert Sandbox.default_template == "code-interpreter-v1"
    assert AsyncSandbox.default_template == "code-interpreter-v1"
    assert issubclass(Sandbox, e2b.Sandbox) and issubclass(AsyncSandbox, e2b.AsyncSandbox)
    assert e2b_code_interpreter.client.__name__ == "e2b_code_interpreter.client"
    assert e2b_code_interpreter.E2B is e2b_code_interpreter.client.E2B


@pytest.mark.parametrize(
    "module",
    [
        "e2b.connection_config",
        "e2b.exceptions",
        "e2b.api.client_sync",
        "e2b.api.client_async",
        "e2b.sandbox.filesystem.filesystem",
        "e2b.sandbox.commands.command_handle",
        "e2b.sandbox.filesystem.watch_handle",
        "e2b.sandbox_sync.filesystem.filesystem",
        "e2b.sandbox_sync.filesystem.watch_handle",
        "e2b.sandbox_sync.commands.command",
        "e2b.sandbox_sync.commands.command_handle",
        "e2b.sandbox_sync.commands.pty",
        "e2b.sandbox_async.filesystem.filesystem",
        "e2b.sandbox_async.filesystem.watch_handle",
        "e2b.sandbox_async.commands.command",
        "e2b.sandbox_async.commands.command_handle",
        "e2b.sandbox_async.commands.command_input_handle",
        "e2b.sandbox_async.commands.pty",
        "e2b.sandbox_sync.main",
        "e2b.sandbox_async.main",
        "e2b_code_interpreter.models",
        "e2b_code_interpreter.constants",
        "e2b_code_interpreter.exceptions",
        "e2b_code_interpreter.code_interpreter_sync",
        "e2b_code_interpreter.code_interpreter_async",
        "e2b_code_interpreter.charts",
        "e2b_code_interpreter.client",
    ],
)
def test_submodules_import(module):
    importlib.import_module(module)


def test_submodule_names():
    from e2b.connection_config import KEEPALIVE_PING_HEADER, REQUEST_TIMEOUT, ApiParams, HttpVersion, default_username  # noqa: F401
    from e2b.sandbox.filesystem.filesystem import AsyncWriteEntry, SyncWriteEntry, WriteEntry  # noqa: F401
    from e2b_code_interpreter.constants import DEFAULT_TEMPLATE, DEFAULT_TIMEOUT, JUPYTER_PORT

    assert (DEFAULT_TEMPLATE, JUPYTER_PORT, DEFAULT_TIMEOUT) == ("code-interpreter-v1", 49999, 300)


def test_removed_code_interpreter_names_explain_the_migration():
    for name in ("CodeInterpreter", "AsyncCodeInterpreter"):
        with pytest.raises(ImportError) as info:
            exec(f"from e2b_code_interpreter import {name}", {})
        message = str(info.value)
        assert "from e2b_code_interpreter import Sandbox" in message
        assert "with Sandbox() as sandbox:" in message
        assert "run_code" in message and "exec_cell" in message
        assert "cwd" in message and "kill()" in message and "close()" in message
        with pytest.raises(ImportError):
            getattr(e2b_code_interpreter, name)
    with pytest.raises(AttributeError):
        e2b_code_interpreter.NoSuchThing  # noqa: B018


def test_constructor_without_internal_arguments_creates_a_sandbox():
    # `Sandbox(**create_opts)` is `Sandbox.create(**create_opts)` (the v1-style quickstart);
    # debug mode makes it observable without any network call.
    sbx = Sandbox(debug=True)
    assert sbx.sandbox_id == "debug_sandbox_id" and str(sbx._envd_version) == "99.99.99"
    assert e2b_code_interpreter.Sandbox(debug=True).sandbox_id == "debug_sandbox_id"
    with pytest.raises(TypeError):
        Sandbox(sandbox_id="x")  # internal form with arguments missing
    with pytest.raises(TypeError):
        Sandbox(no_such_option=1)
    with pytest.raises(TypeError):
        AsyncSandbox()  # the async class can only be created with `await AsyncSandbox.create()`


def test_class_attributes():
    assert Sandbox.default_template == "base"
    assert Sandbox.default_sandbox_timeout == 300
    assert Sandbox.default_mcp_template == "mcp-gateway"
    assert Sandbox.mcp_port == 50005
    assert AsyncSandbox.default_template == "base"


def _debug_sandbox(cls=Sandbox, **extra):
    config = ConnectionConfig(debug=True, extra_sandbox_headers={"E2b-Sandbox-Id": "sbx"})
    return cls(
        sandbox_id="sbx",
        sandbox_domain=None,
        envd_version=extra.pop("envd_version", "0.2.0"),
        envd_access_token="tok",
        traffic_access_token="traffic",
        connection_config=config,
        **extra,
    )


def test_properties_without_network():
    sbx = _debug_sandbox()
    assert sbx.sandbox_id == "sbx"
    assert sbx.sandbox_domain == "e2b.app"
    assert sbx.envd_api_url == "http://localhost:49983"
    assert sbx.envd_direct_url == "http://localhost:49983"
    assert sbx.traffic_access_token == "traffic"
    assert sbx._envd_access_token == "tok"
    assert str(sbx._envd_version) == "0.2.0"
    assert sbx.connection_config.debug is True
    assert sbx.get_host(8080) == "localhost:8080"
    assert sbx.get_mcp_url() == "https://localhost:50005/mcp"


def test_cloud_sandbox_urls(monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", "k")
    sbx = Sandbox(
        sandbox_id="abc",
        sandbox_domain="e2b.app",
        envd_version="0.6.13",
        envd_access_token=None,
        traffic_access_token=None,
        connection_config=ConnectionConfig(),
    )
    assert sbx.envd_api_url == "https://sandbox.e2b.app"
    assert sbx.envd_direct_url == "https://49983-abc.e2b.app"
    assert sbx.get_host(3000) == "3000-abc.e2b.app"
    ci = e2b_code_interpreter.Sandbox(
        sandbox_id="abc",
        sandbox_domain="my.dev",
        envd_version="0.6.13",
        envd_access_token=None,
        traffic_access_token=None,
        connection_config=ConnectionConfig(),
    )
    assert ci._jupyter_url == "https://49999-abc.my.dev"


def test_dual_methods_in_debug_mode_make_no_calls():
    sbx = _debug_sandbox()
    assert sbx.kill() is True
    assert Sandbox.kill(sbx) is True  # instance passed through the class
    assert Sandbox.kill("other", debug=True) is True
    assert sbx.set_timeout(10) is None
    assert Sandbox.set_timeout("x", 10, debug=True) is None
    assert sbx.connect() is sbx
    connected = Sandbox.connect("given-id", debug=True)
    assert connected.sandbox_id == "given-id" and isinstance(connected, Sandbox)
    created = Sandbox.create(debug=True)
    assert created.sandbox_id == "debug_sandbox_id" and str(created._envd_version) == "99.99.99"
    assert sbx.get_metrics() == []
    with sbx as same:
        assert same is sbx


def test_async_dual_methods_in_debug_mode_make_no_calls():
    async def main():
        sbx = _debug_sandbox(AsyncSandbox)
        assert await sbx.kill() is True
        assert await AsyncSandbox.kill(sbx) is True
        assert await AsyncSandbox.kill("x", debug=True) is True
        assert await sbx.connect() is sbx
        created = await AsyncSandbox.create(debug=True)
        assert created.sandbox_id == "debug_sandbox_id"
        async with sbx as same:
            assert same is sbx
        paginator = AsyncSandbox.list()
        assert paginator.has_next is True and paginator.next_token is None

    asyncio.run(main())


def test_list_is_lazy_and_stops_when_exhausted():
    paginator = Sandbox.list(limit=5, next_token="tok")
    assert paginator.has_next is True and paginator.next_token == "tok" and paginator.limit == 5
    paginator._update_pagination("")
    assert paginator.has_next is False
    with pytest.raises(Exception, match="^No more items to fetch$"):
        paginator.next_items()


def test_invalid_order_is_rejected_before_any_request():
    with pytest.raises(InvalidArgumentException, match="Invalid order"):
        Sandbox.list(order="sideways").next_items()


def test_unsupported_extras_raise_not_implemented():
    sbx = _debug_sandbox()
    with pytest.raises(NotImplementedError, match="not supported in this build"):
        sbx.git.clone("https://example.com/repo.git")
    with pytest.raises(NotImplementedError, match="not supported"):
        e2b.Template()
    with pytest.raises(NotImplementedError, match="Volume.create"):
        e2b.Volume.create("v")


def test_files_commands_pty_validate_before_any_request():
    sbx = _debug_sandbox(envd_version="0.6.13")
    with pytest.raises(InvalidArgumentException, match="depth should be at least 1"):
        sbx.files.list("/", depth=0)
    with pytest.raises(InvalidArgumentException, match="use_octet_stream=False"):
        sbx.files.write("a", b"x", gzip=True, use_octet_stream=False)
    with pytest.raises(InvalidArgumentException, match="Iterable data is only uploaded with octet-stream"):
        sbx.files.write("a", [b"x"], use_octet_stream=False)
    with pytest.raises(InvalidArgumentException, match="Invalid metadata key"):
        sbx.files.write("a", b"x", metadata={"bad key": "v"})
    with pytest.raises(InvalidArgumentException, match="wrap it in a list"):
        sbx.commands.stream_input(1, b"x")
    assert sbx.files.write_files([]) == []
    with pytest.raises(e2b.TemplateException, match="requires envd 0.5.7"):
        _debug_sandbox().files.write("a", [b"x"])
    asbx = _debug_sandbox(AsyncSandbox, envd_version="0.6.13")

    async def wrong_iterable():
        with pytest.raises(InvalidArgumentException, match="Sync iterable data"):
            await asbx.files.write("a", [b"x"])

    asyncio.run(wrong_iterable())


def test_run_code_rejects_language_and_context_together():
    sbx = _debug_sandbox(e2b_code_interpreter.Sandbox)
    ctx = e2b_code_interpreter.Context("c", "python", "/home/user")
    with pytest.raises(InvalidArgumentException) as info:
        sbx.run_code("1", language="python", context=ctx)
    assert str(info.value) == "You can provide context or language, but not both at the same time."
    asbx = _debug_sandbox(e2b_code_interpreter.AsyncSandbox)
    with pytest.raises(InvalidArgumentException):
        asyncio.run(asbx.run_code("1", language="python", context=ctx))


def test_get_transport_accepts_both_keyword_forms():
    from e2b.api.client_async import get_transport as get_async
    from e2b.api.client_sync import get_transport as get_sync

    config = ConnectionConfig(api_key="k")
    for transport in (
        get_sync(config, http_version="1.1"),
        get_sync(config, http2=False),
        get_async(config, http_version="1.1"),
    ):
        assert transport is not None
    try:
        import httpx
    except ImportError:
        assert get_sync(config, http2=False).http_version == "1.1"
    else:
        assert isinstance(get_sync(config, http_version="1.1"), httpx.HTTPTransport)
        assert isinstance(get_async(config, http2=False), httpx.AsyncHTTPTransport)


def test_e2b_client_binds_params():
    client = e2b.E2B(api_key="bound", domain="bound.dev")
    assert issubclass(client.Sandbox, Sandbox)
    assert client.Sandbox._resolve_api_params(domain="call.dev") == {"api_key": "bound", "domain": "call.dev"}
    ci_client = e2b_code_interpreter.E2B(api_key="k")
    assert issubclass(ci_client.Sandbox, e2b_code_interpreter.Sandbox)
    assert issubclass(ci_client.AsyncSandbox, e2b_code_interpreter.AsyncSandbox)


def test_data_types():
    assert e2b.PtySize(rows=24, cols=80) == e2b.PtySize(24, 80)
    info = e2b.EntryInfo(
        "a", e2b.FileType.FILE, "/a", 1, 0o644, "-rw-r--r--", "user", "user", None, metadata={"k": "v"}
    )
    assert info.metadata == {"k": "v"} and info.symlink_target is None
    assert e2b.WriteInfo.from_dict({"name": "a", "type": "file", "path": "/a"}).type is e2b.FileType.FILE
    assert e2b.SandboxState("running") is e2b.SandboxState.RUNNING
    assert e2b.SandboxQuery().metadata is None
    assert e2b.FilesystemEventType.WRITE.value == "write"
    assert e2b.ALL_TRAFFIC == "0.0.0.0/0"


def test_import_is_light():
    code = (
        "import sys, e2b, e2b_code_interpreter;"
        "heavy = [m for m in ('asyncio', 'json', 'httpx', 'e2b._native') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), check=True)
    assert out.stdout.strip() == ""


def test_lazy_names_match_the_type_checking_imports():
    """`e2b` imports its names on first use; the map it uses must say what type checkers read."""
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(e2b.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    imported = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert imported == e2b._LAZY
    assert set(imported) | {"client"} == set(e2b.__all__)
