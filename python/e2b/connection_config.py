"""Connection configuration: how per-call options, environment variables and defaults
resolve (the resolution itself runs in the Rust core), plus the sandbox URL helpers.

Without an API key (and unless ``E2B_LOCAL=0``), or with ``E2B_LOCAL=1``, the SDK uses the
local runtime on this machine; with a key it talks to the E2B cloud exactly as upstream. The
core makes that choice once per config, and every URL — API, sandbox ports, signed file URLs,
``get_host`` — comes from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Literal, Mapping, Optional, Tuple, TypedDict, Union, cast

from e2b._bridge import SDK_VERSION, api_default_headers, native, note_local_use
from e2b.exceptions import InvalidArgumentException

if TYPE_CHECKING:  # pragma: no cover
    import logging

    from typing_extensions import Unpack

ProxyTypes = Union[str, Any]
"""The forms the ``proxy`` option accepts: a URL string, an ``httpx.URL`` or an
``httpx.Proxy`` (httpx is not required; such objects are recognised by their attributes)."""

REQUEST_TIMEOUT: float = 60.0
"""Default ``request_timeout`` in seconds."""
STREAM_INPUT_TIMEOUT: float = 60.0
"""Default ``timeout`` of ``commands.stream_input`` / ``pty.stream_input`` in seconds."""
DEFAULT_RETRIES = 3
"""Default number of control-plane retries."""
READ_TIMEOUT: float = 60.0
"""Idle bound between chunks of a streamed file download, in seconds."""

KEEPALIVE_PING_INTERVAL_SEC = 50
"""Keepalive interval requested from envd on streams, in seconds."""
KEEPALIVE_PING_HEADER = "Keepalive-Ping-Interval"
"""Header carrying :data:`KEEPALIVE_PING_INTERVAL_SEC`."""

HttpVersion = Literal["1.1", "2"]
"""HTTP version for API and sandbox requests: ``"2"`` lets TLS negotiate, ``"1.1"`` pins it."""
DEFAULT_HTTP_VERSION: HttpVersion = "2"
"""Default :data:`HttpVersion`."""
HTTP_VERSIONS: Tuple[HttpVersion, ...] = ("1.1", "2")
"""The accepted :data:`HttpVersion` values."""


class ApiParams(TypedDict, total=False):
    """
    Connection options every API-touching method accepts as keyword arguments. For a
    sandbox they apply to all requests made through the returned object.
    """

    request_timeout: Optional[float]
    """Timeout for the request in **seconds**, default 60; ``0`` disables it."""

    retries: Optional[int]
    """Control-plane retries on 429/502/503/504 (or ``Should-Retry: true``), default 3;
    ``0`` disables them. Negative or non-integer values raise ``InvalidArgumentException``."""

    headers: Optional[Dict[str, str]]
    """Additional headers for API requests. Deprecated, use ``api_headers``."""

    api_headers: Optional[Dict[str, str]]
    """Additional headers for E2B API requests."""

    api_key: Optional[str]
    """E2B API key, default ``E2B_API_KEY``. Without one (or with ``E2B_LOCAL=1``) the local
    runtime is used."""

    validate_api_key: Optional[bool]
    """Deprecated and ignored: the key format is not checked client-side."""

    domain: Optional[str]
    """E2B domain, default ``E2B_DOMAIN`` or ``e2b.app``."""

    api_url: Optional[str]
    """API URL, default ``E2B_API_URL`` or ``https://api.<domain>``. Deprecated upstream."""

    debug: Optional[bool]
    """Debug mode (sandbox on ``localhost``), default ``E2B_DEBUG``."""

    proxy: Optional[ProxyTypes]
    """Proxy for the requests (URL string, ``httpx.URL`` or ``httpx.Proxy``)."""

    sandbox_url: Optional[str]
    """One base URL for every sandbox request, default ``E2B_SANDBOX_URL``. Deprecated upstream."""

    http_version: Optional[HttpVersion]
    """``"1.1"`` or ``"2"``, default ``E2B_HTTP_VERSION`` or ``"2"``."""


class ApiParamsWithLogger(ApiParams, total=False):
    """:class:`ApiParams` plus the construction-time ``logger`` (internal)."""

    logger: Optional[logging.Logger]


def merge_api_params(bound_params: Optional[Mapping[str, Any]], params: Mapping[str, Any]) -> ApiParams:
    """Merges params bound to a class (by an ``E2B`` client) with per-call params; per-call
    values win, and per-call ``None`` values fall back to the bound ones."""
    if not bound_params:
        return cast(ApiParams, dict(params))
    merged: Dict[str, Any] = dict(bound_params)
    merged.update({k: v for k, v in params.items() if v is not None})
    return cast(ApiParams, merged)


class ClientFactory:
    """Base of the resource classes whose classmethods build a :class:`ConnectionConfig`
    from per-call params; an ``E2B`` client binds params by subclassing."""

    _bound_api_params: ApiParams = {}

    @classmethod
    def _resolve_api_params(cls, **opts: "Unpack[ApiParams]") -> ApiParams:
        return merge_api_params(cls._bound_api_params, opts)


def _resolve_retries(retries: Any) -> int:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidArgumentException(f"Invalid retries={retries!r}: expected a non-negative integer.")
    return retries


def _proxy_url(proxy: Any) -> Optional[str]:
    """The proxy option as a URL the Rust core takes (credentials in the userinfo)."""
    if proxy is None:
        return None
    if isinstance(proxy, str):
        return proxy
    url = getattr(proxy, "url", None)
    if url is not None and hasattr(proxy, "ssl_context"):  # httpx.Proxy
        if proxy.ssl_context is not None:
            raise InvalidArgumentException("httpx.Proxy ssl_context is not supported")
        text = str(url)
        auth = getattr(proxy, "auth", None)
        if auth and "@" not in text and "://" in text:
            from urllib.parse import quote

            scheme, rest = text.split("://", 1)
            text = f"{scheme}://{quote(auth[0], safe='')}:{quote(auth[1], safe='')}@{rest}"
        return text
    if type(proxy).__name__ == "URL":  # httpx.URL
        return str(proxy)
    raise InvalidArgumentException(
        "Only URL-string, httpx.URL, and httpx.Proxy proxies are supported, "
        'e.g. proxy="http://user:pass@localhost:8030"'
    )


class ConnectionConfig:
    """
    Configuration for the connection to the E2B API and to sandboxes, resolved from the
    given options, the environment and the defaults.
    """

    envd_port = 49983
    """Port of envd inside a sandbox."""

    _integration: Optional[str] = None

    @classmethod
    def set_integration(cls, integration: Optional[str]) -> None:
        """
        Appends ``integration`` (e.g. ``"my-wrapper/1.0"``) to the ``User-Agent`` of every
        request of configs constructed afterwards. ``None`` clears it. Internal use.
        """
        ConnectionConfig._integration = integration

    @staticmethod
    def _build_user_agent() -> str:
        parts = [f"e2b-python-sdk/{SDK_VERSION}"]
        if ConnectionConfig._integration:
            parts.append(ConnectionConfig._integration)
        return " ".join(parts)

    def _apply_user_agent(self, headers: Dict[str, str], override: Optional[str]) -> bool:
        if override is not None:
            headers["User-Agent"] = override
            return False
        headers["User-Agent"] = self._build_user_agent()
        return True

    def __init__(
        self,
        domain: Optional[str] = None,
        debug: Optional[bool] = None,
        api_key: Optional[str] = None,
        validate_api_key: Optional[bool] = None,
        api_url: Optional[str] = None,
        sandbox_url: Optional[str] = None,
        request_timeout: Optional[float] = None,
        headers: Optional[Dict[str, str]] = None,
        api_headers: Optional[Dict[str, str]] = None,
        extra_sandbox_headers: Optional[Dict[str, str]] = None,
        proxy: Optional[ProxyTypes] = None,
        logger: Optional[logging.Logger] = None,
        *,
        retries: Optional[int] = None,
        http_version: Optional[HttpVersion] = None,
        _resolved: Any = None,
    ):
        self.logger = logger
        self.validate_api_key = validate_api_key
        self.headers: Dict[str, str] = {**(headers or {}), **(api_headers or {})}
        self._user_agent_is_sdk_built = self._apply_user_agent(self.headers, self.headers.get("User-Agent"))
        self.__extra_sandbox_headers = dict(extra_sandbox_headers or {})
        self.proxy = proxy
        self.retries = _resolve_retries(retries if retries is not None else DEFAULT_RETRIES)
        if http_version is not None and not isinstance(http_version, str):
            raise InvalidArgumentException(f"http_version must be '1.1' or '2', got {http_version!r}")
        if request_timeout == 0:
            self.request_timeout: Optional[float] = None
        elif request_timeout is not None:
            self.request_timeout = request_timeout
        else:
            self.request_timeout = REQUEST_TIMEOUT

        # `_resolved`: the native connection a create/connect call returned for its sandbox
        # (the same resolution, bound to the daemon that served it in local mode).
        resolved = _resolved if _resolved is not None else native().Connection(
            domain=domain or None,
            debug=debug,
            api_key=api_key or None,
            api_url=api_url or None,
            sandbox_url=sandbox_url or None,
            request_timeout=float(self.request_timeout) if self.request_timeout is not None else 0.0,
            retries=self.retries,
            http_version=http_version,
            proxy=_proxy_url(proxy),
            headers=list({**api_default_headers(), **self.headers}.items()),
        )
        self._connection = resolved
        self.domain: str = resolved.domain
        self.debug: bool = resolved.debug
        self.api_key: Optional[str] = resolved.api_key
        self.api_url: str = resolved.api_url
        self._sandbox_url: Optional[str] = resolved.sandbox_url
        self.http_version: HttpVersion = cast(HttpVersion, resolved.http_version)
        self._local: bool = resolved.local
        """Whether every request goes to the local runtime (no API key, or ``E2B_LOCAL=1``)."""

    def _native_connection(self) -> Any:
        """The native connection used for control-plane calls."""
        if self._local:
            note_local_use(self._connection.local_notice)
        return self._connection

    @staticmethod
    def _get_request_timeout(default_timeout: Optional[float], request_timeout: Optional[float]):
        if request_timeout == 0:
            return None
        if request_timeout is not None:
            return request_timeout
        return default_timeout

    def get_request_timeout(self, request_timeout: Optional[float] = None):
        """The effective request timeout: the given one (``0`` disables) or the config's."""
        return self._get_request_timeout(self.request_timeout, request_timeout)

    def get_sandbox_url(self, sandbox_id: str, sandbox_domain: str, port: Optional[int] = None) -> str:
        """
        Base URL of a sandbox port (envd's by default). Local runtime: the daemon's URL. Cloud:
        ``sandbox_url`` if configured, else ``http://localhost:<port>`` in debug mode, else the
        shared ``https://sandbox.<domain>`` host for E2B's domains, else
        ``https://<port>-<sandbox_id>.<domain>``.
        """
        port = self.envd_port if port is None else port
        return self._connection.sandbox_address("url", sandbox_id, sandbox_domain, port)

    def get_sandbox_direct_url(self, sandbox_id: str, sandbox_domain: str, port: Optional[int] = None) -> str:
        """Base URL of a sandbox port that never uses the shared host (for signed file URLs)."""
        port = self.envd_port if port is None else port
        return self._connection.sandbox_address("direct_url", sandbox_id, sandbox_domain, port)

    def get_host(self, sandbox_id: str, sandbox_domain: str, port: int) -> str:
        """
        Host address of a sandbox port, for connecting from outside the sandbox via HTTP or
        WebSocket.

        :param sandbox_id: Sandbox to connect to
        :param sandbox_domain: Domain of the sandbox
        :param port: Port to connect to
        :return: ``<port>-<sandbox_id>.<sandbox_domain>``, ``localhost:<port>`` in debug mode,
            or the local runtime's loopback ``host:port``
        """
        return self._connection.sandbox_address("host", sandbox_id, sandbox_domain, port)

    def get_api_params(self, **opts: "Unpack[ApiParams]") -> dict:
        """
        The params for a call made through an existing config: this config's values,
        overridden by ``opts``. Returns a new dict (the config is not modified).
        """
        headers = opts.get("headers")
        api_headers = opts.get("api_headers")
        request_timeout = opts.get("request_timeout")
        api_key = opts.get("api_key")
        validate_api_key = opts.get("validate_api_key")
        api_url = opts.get("api_url")
        domain = opts.get("domain")
        debug = opts.get("debug")
        proxy = opts.get("proxy")
        sandbox_url = opts.get("sandbox_url")
        http_version = opts.get("http_version")
        retries = opts.get("retries")

        req_headers = self.headers.copy()
        if headers is not None:
            req_headers.update(headers)
        if api_headers is not None:
            req_headers.update(api_headers)
        if self._user_agent_is_sdk_built:
            per_call_user_agent = {**(headers or {}), **(api_headers or {})}.get("User-Agent")
            self._apply_user_agent(req_headers, per_call_user_agent)

        return dict(
            ApiParamsWithLogger(
                api_key=api_key if api_key is not None else self.api_key,
                validate_api_key=validate_api_key if validate_api_key is not None else self.validate_api_key,
                api_url=api_url if api_url is not None else (self.api_url or None),
                domain=domain if domain is not None else self.domain,
                debug=debug if debug is not None else self.debug,
                request_timeout=self.get_request_timeout(request_timeout),
                headers=req_headers,
                proxy=proxy if proxy is not None else self.proxy,
                sandbox_url=sandbox_url if sandbox_url is not None else self._sandbox_url,
                http_version=http_version if http_version is not None else self.http_version,
                logger=self.logger,
                retries=retries if retries is not None else self.retries,
            )
        )

    @property
    def sandbox_headers(self) -> Dict[str, str]:
        """Headers sent to a sandbox's envd: ``User-Agent`` plus the per-sandbox headers."""
        return {"User-Agent": self.headers["User-Agent"], **self.__extra_sandbox_headers}


Username = str
"""User used for the operation in the sandbox."""

default_username: Username = "user"
"""Default user used for the operation in the sandbox."""
