"""Connection configuration: option/environment/default precedence, the cloud-or-local
choice (docs/design.md#choosing-cloud-or-local), http_version validation and the sandbox URL
rules (docs/protocol.md#url-resolution)."""

from __future__ import annotations

import pytest
from e2b import ConnectionConfig, InvalidArgumentException, _native

# Tests of the local runtime's resolution; a build without it (cloud-only) has its own
# contract, asserted by tests/unit/test_platform.py in both kinds of build.
local_runtime_only = pytest.mark.skipif(
    not _native.LOCAL_RUNTIME, reason="cloud-only build: tests/unit/test_platform.py asserts its contract"
)

ENV_VARS = (
    "E2B_API_KEY",
    "E2B_DOMAIN",
    "E2B_API_URL",
    "E2B_SANDBOX_URL",
    "E2B_DEBUG",
    "E2B_LOCAL",
    "E2B_HTTP_VERSION",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@local_runtime_only
def test_defaults_without_a_key_use_the_local_runtime():
    config = ConnectionConfig()
    assert config._local is True
    assert config.api_key is None
    assert config.domain == "e2b.app"
    assert config.request_timeout == 60.0
    assert config.retries == 3
    assert config.http_version == "2"
    assert config.debug is False


def test_a_key_means_the_cloud(monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", "e2b_123")
    config = ConnectionConfig()
    assert config._local is False
    assert config.api_key == "e2b_123"
    assert config.api_url == "https://api.e2b.app"


@local_runtime_only
def test_local_zero_never_goes_local():
    config = ConnectionConfig()
    assert config._local
    import os

    os.environ["E2B_LOCAL"] = "0"
    try:
        config = ConnectionConfig()
        assert config._local is False
        assert config.api_key is None
    finally:
        del os.environ["E2B_LOCAL"]


def test_local_zero_without_key_raises_authentication_error_on_use(monkeypatch):
    from e2b import AuthenticationException, Sandbox

    monkeypatch.setenv("E2B_LOCAL", "0")
    with pytest.raises(AuthenticationException, match="^API key is required"):
        Sandbox.kill("abc")


@local_runtime_only
def test_local_one_ignores_a_key(monkeypatch):
    monkeypatch.setenv("E2B_LOCAL", "1")
    config = ConnectionConfig(api_key="e2b_abc")
    assert config._local is True
    assert config.api_key is None


@local_runtime_only
def test_the_local_notice_says_why_and_names_what_is_ignored(monkeypatch):
    monkeypatch.setenv("E2B_LOCAL", "1")
    monkeypatch.setenv("E2B_SANDBOX_URL", "https://sandbox.example.dev")
    notice = ConnectionConfig(api_key="e2b_abc", domain="example.dev")._connection.local_notice
    assert notice == (
        "E2B_LOCAL=1: sandboxes run on this machine (local runtime); ignored: the API key (api_key=), "
        "domain=, E2B_SANDBOX_URL. Unset E2B_LOCAL to use the E2B cloud."
    )
    monkeypatch.delenv("E2B_LOCAL")
    monkeypatch.delenv("E2B_SANDBOX_URL")
    assert ConnectionConfig()._connection.local_notice.startswith("No E2B API key is configured: sandboxes run")
    assert ConnectionConfig(api_key="k")._connection.local_notice is None


@local_runtime_only
def test_a_local_config_never_yields_a_cloud_url(monkeypatch, tmp_path):
    # With E2B_LOCAL=1 and every cloud setting, the sandbox URLs name a loopback daemon (the
    # one this process found, else the one the state file names) or there is none.
    (tmp_path / "state.json").write_text('{"url": "http://127.0.0.1:9", "api_key": "k", "pid": 1, "version": "0"}')
    monkeypatch.setenv("E2B_LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("E2B_LOCAL", "1")
    monkeypatch.setenv("E2B_API_KEY", "e2b_abc")
    monkeypatch.setenv("E2B_SANDBOX_URL", "https://sandbox.example.dev")
    config = ConnectionConfig(domain="example.dev")
    urls = [config.get_sandbox_url("abc", "e2b.app"), config.get_sandbox_url("abc", "e2b.app", port=49999),
            config.get_sandbox_direct_url("abc", "e2b.app")]
    assert all(url.startswith("http://127.0.0.1:") for url in urls), urls
    assert config.get_host("abc", "e2b.app", 8080).startswith("127.0.0.1:")


def test_debug_is_never_local(monkeypatch):
    monkeypatch.setenv("E2B_DEBUG", "TRUE")
    config = ConnectionConfig()
    assert config.debug is True
    assert config._local is False
    assert config.api_url == "http://localhost:3000"


def test_precedence_option_over_environment(monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", "env-key")
    monkeypatch.setenv("E2B_DOMAIN", "env.dev")
    monkeypatch.setenv("E2B_API_URL", "http://env-api")
    monkeypatch.setenv("E2B_SANDBOX_URL", "http://env-sbx")
    config = ConnectionConfig()
    assert (config.api_key, config.domain, config.api_url, config._sandbox_url) == (
        "env-key",
        "env.dev",
        "http://env-api",
        "http://env-sbx",
    )
    config = ConnectionConfig(api_key="k", domain="opt.dev", api_url="http://opt", sandbox_url="http://s")
    assert (config.api_key, config.domain, config.api_url, config._sandbox_url) == (
        "k",
        "opt.dev",
        "http://opt",
        "http://s",
    )
    monkeypatch.delenv("E2B_API_URL")
    assert ConnectionConfig(domain="x.dev").api_url == "https://api.x.dev"


def test_request_timeout_zero_disables():
    assert ConnectionConfig(request_timeout=0).request_timeout is None
    assert ConnectionConfig(request_timeout=5).request_timeout == 5
    config = ConnectionConfig(request_timeout=5)
    assert config.get_request_timeout() == 5
    assert config.get_request_timeout(0) is None
    assert config.get_request_timeout(2) == 2


@pytest.mark.parametrize("value", ["3", "h2", "1.0", ""])
def test_http_version_option_is_validated(value):
    with pytest.raises(InvalidArgumentException, match=r"^http_version must be '1.1' or '2', got '"):
        ConnectionConfig(http_version=value)


def test_http_version_environment_is_validated(monkeypatch):
    monkeypatch.setenv("E2B_HTTP_VERSION", "3")
    with pytest.raises(InvalidArgumentException) as info:
        ConnectionConfig()
    assert str(info.value) == "E2B_HTTP_VERSION must be '1.1' or '2', got '3'"
    monkeypatch.setenv("E2B_HTTP_VERSION", "1.1")
    assert ConnectionConfig().http_version == "1.1"
    assert ConnectionConfig(http_version="2").http_version == "2"


def test_http_version_must_be_a_string():
    with pytest.raises(InvalidArgumentException, match="got 2$"):
        ConnectionConfig(http_version=2)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_retries_are_validated(value):
    with pytest.raises(InvalidArgumentException, match=r"^Invalid retries="):
        ConnectionConfig(retries=value)  # type: ignore[arg-type]


def test_retries_zero_is_allowed():
    assert ConnectionConfig(retries=0).retries == 0


def test_sandbox_urls(monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", "k")
    config = ConnectionConfig()
    assert config.get_sandbox_url("abc", "e2b.app") == "https://sandbox.e2b.app"
    assert config.get_sandbox_url("abc", "e2b.app", port=49999) == "https://sandbox.e2b.app"
    assert config.get_sandbox_url("abc", "foxtrot-2.e2b.dev") == "https://sandbox.foxtrot-2.e2b.dev"
    assert config.get_sandbox_url("abc", "custom.dev", port=49999) == "https://49999-abc.custom.dev"
    assert config.get_sandbox_url("abc", "custom.dev") == "https://49983-abc.custom.dev"
    assert config.get_sandbox_direct_url("abc", "e2b.app") == "https://49983-abc.e2b.app"
    assert config.get_host("abc", "e2b.app", 8080) == "8080-abc.e2b.app"


def test_sandbox_urls_in_debug_and_with_sandbox_url(monkeypatch):
    config = ConnectionConfig(debug=True)
    assert config.get_sandbox_url("abc", "e2b.app", port=49999) == "http://localhost:49999"
    assert config.get_sandbox_direct_url("abc", "e2b.app") == "http://localhost:49983"
    assert config.get_host("abc", "e2b.app", 3000) == "localhost:3000"
    config = ConnectionConfig(api_key="k", sandbox_url="http://127.0.0.1:9999")
    assert config.get_sandbox_url("abc", "e2b.app", port=49999) == "http://127.0.0.1:9999"
    assert config.get_sandbox_direct_url("abc", "e2b.app") == "http://127.0.0.1:9999"


def test_headers_and_user_agent():
    config = ConnectionConfig(headers={"A": "1"}, api_headers={"A": "2", "B": "3"})
    assert config.headers["A"] == "2"
    assert config.headers["B"] == "3"
    assert config.headers["User-Agent"] == "e2b-python-sdk/2.63.0"
    custom = ConnectionConfig(api_headers={"User-Agent": "mine"})
    assert custom.headers["User-Agent"] == "mine"
    sbx = ConnectionConfig(extra_sandbox_headers={"E2b-Sandbox-Id": "x"})
    assert sbx.sandbox_headers == {"User-Agent": "e2b-python-sdk/2.63.0", "E2b-Sandbox-Id": "x"}


def test_set_integration_appends_to_the_user_agent():
    try:
        ConnectionConfig.set_integration("wrapper/1.0")
        assert ConnectionConfig().headers["User-Agent"] == "e2b-python-sdk/2.63.0 wrapper/1.0"
    finally:
        ConnectionConfig.set_integration(None)
    assert ConnectionConfig().headers["User-Agent"] == "e2b-python-sdk/2.63.0"


def test_get_api_params_merges_per_call_options(monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", "k")
    config = ConnectionConfig(request_timeout=10, api_headers={"X": "1"})
    params = config.get_api_params(api_headers={"Y": "2"}, request_timeout=3)
    assert params["api_key"] == "k"
    assert params["request_timeout"] == 3
    assert params["headers"]["X"] == "1" and params["headers"]["Y"] == "2"
    assert params["domain"] == "e2b.app"
    assert params["retries"] == 3
    assert params["http_version"] == "2"
    assert set(params) >= {"api_url", "sandbox_url", "debug", "proxy", "logger", "validate_api_key"}
    # A config rebuilt from the params resolves to the same values.
    again = ConnectionConfig(**params)
    assert again.api_url == config.api_url and again.api_key == config.api_key


def test_proxy_validation():
    with pytest.raises(InvalidArgumentException, match="Only URL-string"):
        ConnectionConfig(proxy=object())
    assert ConnectionConfig(proxy="http://user:pw@localhost:8030").proxy == "http://user:pw@localhost:8030"


def test_module_constants():
    from e2b import connection_config as cc

    assert cc.REQUEST_TIMEOUT == 60.0
    assert cc.DEFAULT_RETRIES == 3
    assert cc.DEFAULT_HTTP_VERSION == "2"
    assert cc.HTTP_VERSIONS == ("1.1", "2")
    assert cc.STREAM_INPUT_TIMEOUT == 60.0
    assert cc.KEEPALIVE_PING_HEADER == "Keepalive-Ping-Interval"
    assert cc.KEEPALIVE_PING_INTERVAL_SEC == 50
    assert cc.default_username == "user"
    assert ConnectionConfig.envd_port == 49983
