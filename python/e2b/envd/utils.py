"""Small rules shared by every envd call site (user selection, timeouts)."""

from __future__ import annotations

from typing import Any, Optional, Union

from e2b._version import ENVD_DEFAULT_USER, release_tuple
from e2b.connection_config import default_username


def envd_user(envd_version: Any, user: Optional[str]) -> Optional[str]:
    """The user to name on a call: the given one; for envd older than 0.4.0 (which has no
    default user) ``"user"``; else ``None`` (envd's default, ``user``)."""
    if user is None and release_tuple(envd_version) < ENVD_DEFAULT_USER.release:
        return default_username
    return user or None


def as_bytes(data: Union[str, bytes, bytearray, memoryview]) -> bytes:
    """Input data as bytes (``str`` is UTF-8 encoded)."""
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)
