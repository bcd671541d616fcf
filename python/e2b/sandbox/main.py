"""``SandboxBase``: what the sync and async sandboxes share — identity, URLs, signed file
URLs, and the lazily built native client for the sandbox's data plane."""

from __future__ import annotations

import urllib.parse
from typing import Any, Optional, TypedDict, Union

from e2b._bridge import native
from e2b._version import ENVD_DEFAULT_USER, Version, release_tuple
from e2b.connection_config import ClientFactory, ConnectionConfig, default_username
from e2b.exceptions import InvalidArgumentException
from e2b.sandbox.signature import get_signature

ENVD_API_FILES_ROUTE = "/files"
ENVD_API_HEALTH_ROUTE = "/health"


class SandboxOpts(TypedDict):
    """Internal keyword arguments of the sandbox constructors."""

    sandbox_id: str
    sandbox_domain: Optional[str]
    envd_version: Any
    envd_access_token: Optional[str]
    traffic_access_token: Optional[str]
    connection_config: ConnectionConfig


class SandboxBase(ClientFactory):
    """State and pure helpers shared by :class:`e2b.Sandbox` and :class:`e2b.AsyncSandbox`."""

    mcp_port = 50005
    """Port of the MCP gateway inside an MCP sandbox."""

    default_sandbox_timeout = 300
    """Default sandbox lifetime in seconds."""

    default_template = "base"
    """Template used by ``create()`` when none is given."""

    default_mcp_template = "mcp-gateway"
    """Template used by ``create(mcp=...)`` when none is given."""

    def __init__(
        self,
        sandbox_id: str,
        envd_version: Union[str, Version, Any],
        envd_access_token: Optional[str],
        sandbox_domain: Optional[str],
        connection_config: ConnectionConfig,
        traffic_access_token: Optional[str] = None,
    ):
        self.__connection_config = connection_config
        self.__sandbox_id = sandbox_id
        self.__sandbox_domain = sandbox_domain or connection_config.domain
        self.__envd_version = Version(envd_version) if isinstance(envd_version, str) else envd_version
        self.__envd_access_token = envd_access_token
        self.__traffic_access_token = traffic_access_token
        # Built on first use: the constructor does no I/O and cannot fail on a URL.
        self.__envd_api_url: Optional[str] = None
        self.__envd_direct_url: Optional[str] = None
        self.__mcp_token: Optional[str] = None
        self.__native_client: Any = None
        self.__native_envd: Any = None

    @property
    def _envd_access_token(self) -> Optional[str]:
        """The envd access token (``None`` for an unsecured sandbox)."""
        return self.__envd_access_token

    @property
    def _mcp_token(self) -> Optional[str]:
        return self.__mcp_token

    @_mcp_token.setter
    def _mcp_token(self, token: str) -> None:
        self.__mcp_token = token

    @property
    def connection_config(self) -> ConnectionConfig:
        """The connection configuration of this sandbox."""
        return self.__connection_config

    @property
    def _envd_version(self) -> Any:
        """Version of envd in the sandbox."""
        return self.__envd_version

    @property
    def traffic_access_token(self) -> Optional[str]:
        """Token required for non-envd ports of sandboxes without public traffic."""
        return self.__traffic_access_token

    @property
    def sandbox_domain(self) -> str:
        """Domain of the sandbox's hosts."""
        return self.__sandbox_domain

    @property
    def envd_api_url(self) -> str:
        """Base URL of the sandbox's envd API."""
        if self.__envd_api_url is None:
            self.__envd_api_url = self.__connection_config.get_sandbox_url(self.__sandbox_id, self.__sandbox_domain)
        return self.__envd_api_url

    @property
    def envd_direct_url(self) -> str:
        """Base URL of envd that never uses the shared host (used for signed file URLs)."""
        if self.__envd_direct_url is None:
            self.__envd_direct_url = self.__connection_config.get_sandbox_direct_url(
                self.__sandbox_id, self.__sandbox_domain
            )
        return self.__envd_direct_url

    @property
    def sandbox_id(self) -> str:
        """Unique identifier of the sandbox."""
        return self.__sandbox_id

    @property
    def _sandbox_client(self) -> Any:
        """The native client of this sandbox's data plane (built on first use; no I/O)."""
        if self.__native_client is None:
            from e2b.connection_config import _proxy_url

            config = self.__connection_config
            self.__native_client = native().SandboxClient(
                self.__sandbox_id,
                self.envd_api_url,
                list(config.sandbox_headers.items()),
                self.__envd_access_token,
                self.__traffic_access_token,
                config.http_version,
                _proxy_url(config.proxy),
            )
        return self.__native_client

    @property
    def _envd(self) -> Any:
        """The native envd client of this sandbox (files, commands, PTYs; built on first use)."""
        if self.__native_envd is None:
            self.__native_envd = native().Envd(self._sandbox_client)
        return self.__native_envd

    def _envd_older_than(self, version: Version) -> bool:
        return release_tuple(self.__envd_version) < version.release

    def _file_url(
        self,
        path: str,
        user: Optional[str] = None,
        signature: Optional[str] = None,
        signature_expiration: Optional[int] = None,
    ) -> str:
        url = urllib.parse.urljoin(self.envd_direct_url, ENVD_API_FILES_ROUTE)
        query = {"path": path} if path else {}
        if user:
            query["username"] = user
        if signature:
            query["signature"] = signature
        if signature_expiration:
            if signature is None:
                raise ValueError("signature_expiration requires signature to be set")
            query["signature_expiration"] = str(signature_expiration)
        params = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        return urllib.parse.urljoin(url, f"?{params}")

    def _signed_file_url(
        self, operation: str, path: str, user: Optional[str], use_signature_expiration: Optional[int]
    ) -> str:
        use_signature = self._envd_access_token is not None
        if not use_signature and use_signature_expiration is not None:
            raise InvalidArgumentException("Signature expiration can be used only when sandbox is created as secured.")
        username = user
        if username is None and self._envd_older_than(ENVD_DEFAULT_USER):
            username = default_username
        if use_signature:
            signature = get_signature(
                path,
                operation,  # type: ignore[arg-type]
                username,
                self._envd_access_token,
                use_signature_expiration,
            )
            return self._file_url(path, username, signature["signature"], signature["expiration"])
        return self._file_url(path, username)

    def download_url(
        self,
        path: str,
        user: Optional[str] = None,
        use_signature_expiration: Optional[int] = None,
    ) -> str:
        """
        URL to download a file from the sandbox (signed when the sandbox is secured).

        :param path: Path of the file
        :param user: User to download the file as
        :param use_signature_expiration: Lifetime of the signed URL in seconds
        :return: URL for downloading the file
        """
        return self._signed_file_url("read", path, user, use_signature_expiration)

    def upload_url(
        self,
        path: str,
        user: Optional[str] = None,
        use_signature_expiration: Optional[int] = None,
    ) -> str:
        """
        URL to upload a file to the sandbox with a multipart/form-data ``POST`` (signed when
        the sandbox is secured).

        :param path: Path of the file
        :param user: User to upload the file as
        :param use_signature_expiration: Lifetime of the signed URL in seconds
        :return: URL for uploading the file
        """
        return self._signed_file_url("write", path, user, use_signature_expiration)

    def get_host(self, port: int) -> str:
        """
        Host address of a sandbox port, for connecting from outside via HTTP or WebSocket.

        :param port: Port to connect to
        :return: Host address to connect to
        """
        return self.connection_config.get_host(self.sandbox_id, self.sandbox_domain, port)

    def get_mcp_url(self) -> str:
        """URL of the sandbox's MCP gateway."""
        return f"https://{self.get_host(self.mcp_port)}/mcp"


def sandbox_kwargs(
    created: Any,
    params: dict,
    logger: Any = None,
    debug_sandbox_id: Optional[str] = None,
) -> dict:
    """Constructor kwargs of a sandbox object from the native create/connect result
    ``(id, domain, envd_version, access_token, traffic_token, connection)``, or for debug
    mode (no API call) when ``created`` is ``None``.

    The sandbox's config keeps the calling config's resolution (``connection``), which in
    local mode is bound to the daemon that served the call: its URLs all name that daemon."""
    from e2b._version import ENVD_DEBUG_FALLBACK

    if created is None:
        sandbox_id = debug_sandbox_id or "debug_sandbox_id"
        domain, envd_version, access_token, traffic_token = None, ENVD_DEBUG_FALLBACK, None, None
        resolved = None
    else:
        sandbox_id, domain, version, access_token, traffic_token, resolved = created
        envd_version = Version(version)
    headers = {"E2b-Sandbox-Id": sandbox_id, "E2b-Sandbox-Port": str(ConnectionConfig.envd_port)}
    if access_token is not None:
        headers["X-Access-Token"] = access_token
    logger = logger if logger is not None else params.get("logger")
    params = {k: v for k, v in params.items() if k != "logger"}
    config = ConnectionConfig(extra_sandbox_headers=headers, logger=logger, _resolved=resolved, **params)
    return dict(
        sandbox_id=sandbox_id,
        sandbox_domain=domain,
        envd_version=envd_version,
        envd_access_token=access_token,
        traffic_access_token=traffic_token,
        connection_config=config,
    )
