"""What each build promises about the local runtime.

The wheel for x86-64 Linux has the local runtime; every other build (macOS, Windows, aarch64
Linux, or a source build with `--no-default-features`, which scripts/cloud-only.sh tests
here) is cloud-only. Each test asserts the contract of the build it runs against
(`e2b._native.LOCAL_RUNTIME`), so both builds run every test:

* no key and `E2B_LOCAL` unset: the local runtime, else upstream's `AuthenticationException`
  plus one sentence (docs/declared-differences.md), raised before any request;
* `E2B_LOCAL=1`: the local runtime, else refused (never a fall-back to the cloud);
* `E2B_LOCAL=0` without a key: upstream's error word for word in both;
* `e2b-local` (console script and `python -m e2b._local`) exists in both; without the runtime
  it prints the sentence and exits 1."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from e2b import AsyncSandbox, AuthenticationException, ConnectionConfig, Sandbox, SandboxException, _native
from traffic_recorder import TrafficRecorder

UPSTREAM_MESSAGE = (
    "API key is required, please visit the API Keys tab at https://e2b.dev/dashboard?tab=keys to get your "
    "API key. You can either set the environment variable `E2B_API_KEY` or you can pass it directly to the "
    'method like api_key="e2b_..."'
)
SENTENCE = "Local sandboxes, which need no API key, run on x86-64 Linux only; this build of e2b is cloud-only."
RUNTIME = _native.LOCAL_RUNTIME


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ("E2B_API_KEY", "E2B_DOMAIN", "E2B_API_URL", "E2B_SANDBOX_URL", "E2B_DEBUG", "E2B_LOCAL"):
        monkeypatch.delenv(var, raising=False)
    # Nothing here may find or start a daemon: a state directory that must stay absent.
    monkeypatch.setenv("E2B_LOCAL_STATE_DIR", str(tmp_path / "no-daemon"))


@pytest.fixture
def recorder():
    recorder = TrafficRecorder()
    try:
        yield recorder
    finally:
        recorder.close()


def test_the_sentence_is_the_declared_one():
    assert _native.LOCAL_RUNTIME_UNAVAILABLE == SENTENCE
    text = (Path(__file__).resolve().parents[2] / "docs" / "declared-differences.md").read_text()
    assert SENTENCE in text


def test_no_key_and_no_flag(monkeypatch, recorder, tmp_path):
    monkeypatch.setenv("E2B_API_URL", recorder.url)
    monkeypatch.setenv("E2B_SANDBOX_URL", recorder.url)
    config = ConnectionConfig()
    assert config._local is RUNTIME
    if RUNTIME:
        assert config.api_url == ""  # the daemon's URL, found on first use
        return
    # Cloud-only: the configuration is upstream's, and so is the error, plus the sentence.
    assert (config.api_url, config.api_key) == (recorder.url, None)
    expected = f"{UPSTREAM_MESSAGE} {SENTENCE}"
    with pytest.raises(AuthenticationException) as sync_error:
        Sandbox.create()
    assert str(sync_error.value) == expected
    with pytest.raises(AuthenticationException) as async_error:
        asyncio.run(AsyncSandbox.create())
    assert str(async_error.value) == expected
    with pytest.raises(AuthenticationException) as list_error:
        Sandbox.list().next_items()
    assert str(list_error.value) == expected
    # Raised before any request, and no local runtime was looked for.
    assert recorder.connections() == 0
    assert not (tmp_path / "no-daemon").exists()


def test_local_zero_without_a_key_is_upstreams_error_in_every_build(monkeypatch, recorder):
    monkeypatch.setenv("E2B_LOCAL", "0")
    monkeypatch.setenv("E2B_API_URL", recorder.url)
    with pytest.raises(AuthenticationException) as error:
        Sandbox.create()
    assert str(error.value) == UPSTREAM_MESSAGE
    assert recorder.connections() == 0


@pytest.mark.parametrize("key", [None, "e2b_0123456789abcdef0123456789abcdef01234567"])
def test_local_one(monkeypatch, recorder, key):
    monkeypatch.setenv("E2B_LOCAL", "1")
    monkeypatch.setenv("E2B_API_URL", recorder.url)
    if key:
        monkeypatch.setenv("E2B_API_KEY", key)
    if RUNTIME:
        config = ConnectionConfig()
        assert config._local is True and config.api_key is None
        return
    # Never a fall-back to the cloud, with or without a key.
    for attempt in (ConnectionConfig, Sandbox.create, lambda: asyncio.run(AsyncSandbox.create())):
        with pytest.raises(SandboxException) as error:
            attempt()
        assert str(error.value) == f"E2B_LOCAL=1: {SENTENCE} Unset E2B_LOCAL to use the E2B cloud."
    assert recorder.connections() == 0


def test_a_key_is_the_cloud_in_every_build(monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", "e2b_123")
    config = ConnectionConfig()
    assert (config._local, config.api_key, config.api_url) == (False, "e2b_123", "https://api.e2b.app")


def e2b_local(*args: str, console_script: bool = False) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / ("e2b-local.exe" if os.name == "nt" else "e2b-local")
    command = [str(script)] if console_script else [sys.executable, "-m", "e2b._local"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("console_script", [False, True], ids=["python -m e2b._local", "e2b-local"])
def test_e2b_local_exists_and_says_what_this_build_has(console_script):
    proc = e2b_local("--help", console_script=console_script)
    if RUNTIME:
        assert proc.returncode == 0, proc.stderr
        assert "serve" in proc.stdout
        return
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"e2b-local: {SENTENCE} To use the E2B cloud, set E2B_API_KEY (keys: https://e2b.dev/dashboard?tab=keys).\n"
    )
    for args in (("serve",), ("status", "--json"), ("env",)):
        proc = e2b_local(*args, console_script=console_script)
        assert proc.returncode == 1 and SENTENCE in proc.stderr, (args, proc)


def test_the_native_entry_points_exist_in_every_build():
    if RUNTIME:
        assert callable(_native.cli_main) and callable(_native.agent_main)
        return
    for call in (lambda: _native.cli_main([], sys.executable, _native.__file__), _native.agent_main):
        with pytest.raises(RuntimeError, match=SENTENCE.replace(".", r"\.")):
            call()
