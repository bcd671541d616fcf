"""Transport factory of the sync stack."""

from __future__ import annotations

from typing import Any, Optional

from e2b.api import transport_for
from e2b.connection_config import ConnectionConfig


def get_transport(
    config: ConnectionConfig,
    http2: Optional[bool] = None,
    *,
    http_version: Optional[str] = None,
    for_streaming: bool = False,
    retry_connect: bool = True,
) -> Any:
    """
    A sync HTTP transport for ``config``: an ``httpx.HTTPTransport`` when httpx is installed,
    else a :class:`e2b.api.TransportSettings`. Accepts both the 2.63.0 keyword
    ``http_version="1.1"`` and the older ``http2=False``.
    """
    return transport_for(config, False, http2=http2, http_version=http_version, retry_connect=retry_connect)


get_envd_transport = get_transport
