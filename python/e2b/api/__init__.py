"""HTTP plumbing shared with code written against upstream internals.

Upstream's generated REST client is not part of this build (the Rust core talks to the API);
``ApiClient`` is kept as a name only. :func:`transport_for` backs
``e2b.api.client_sync.get_transport`` / ``e2b.api.client_async.get_transport``, which the
official code-interpreter package uses to build its httpx clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from e2b._extras import ApiClient
from e2b.connection_config import ConnectionConfig, _proxy_url

__all__ = ["ApiClient", "TransportSettings", "transport_for"]


@dataclass(frozen=True)
class TransportSettings:
    """What a transport for a config should look like, returned when httpx is not installed."""

    http_version: str
    """``"1.1"`` or ``"2"``."""
    proxy: Optional[str]
    """Proxy URL, if any."""
    retries: int
    """Connection-establishment retries."""


def _resolve_version(config: ConnectionConfig, http2: Optional[bool], http_version: Optional[str]) -> str:
    if http_version is not None:
        return http_version
    if http2 is not None:
        return "2" if http2 else "1.1"
    return getattr(config, "http_version", "2")


def transport_for(
    config: ConnectionConfig,
    asynchronous: bool,
    http2: Optional[bool] = None,
    http_version: Optional[str] = None,
    retry_connect: bool = True,
) -> Any:
    """An httpx transport (``HTTPTransport``/``AsyncHTTPTransport``) for ``config`` when httpx
    is installed, else a :class:`TransportSettings` describing one."""
    import os

    version = _resolve_version(config, http2, http_version)
    retries = int(os.getenv("E2B_CONNECTION_RETRIES") or "3") if retry_connect else 0
    proxy = _proxy_url(config.proxy)
    try:
        import httpx
    except ImportError:
        return TransportSettings(http_version=version, proxy=proxy, retries=retries)
    use_h2 = version == "2"
    if use_h2:
        try:
            import h2  # noqa: F401
        except ImportError:
            use_h2 = False
    cls = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
    return cls(http2=use_h2, http1=True, proxy=proxy, retries=retries)
