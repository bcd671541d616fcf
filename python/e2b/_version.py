"""A minimal, dependency-free stand-in for ``packaging.version.Version``, enough for the envd
version gates (numeric release comparison). Construction never fails: anything after the
numeric release (``-rc1``, ``+local``) is kept for ``str()`` but ignored when comparing."""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Any, Tuple

_RELEASE = re.compile(r"^\s*v?(\d+(?:\.\d+)*)")


def release_tuple(version: Any) -> Tuple[int, ...]:
    """The numeric release of a version string or version object, padded to three parts."""
    match = _RELEASE.match(str(version))
    parts = tuple(int(p) for p in match.group(1).split(".")) if match else (0,)
    return parts + (0,) * (3 - len(parts))


@total_ordering
class Version:
    """A comparable version (``Version("0.6.13") < Version("0.10.0")``)."""

    __slots__ = ("_text", "release")

    def __init__(self, version: Any):
        self._text = str(version).strip()
        self.release = release_tuple(self._text)

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"<Version({self._text!r})>"

    def __hash__(self) -> int:
        return hash(self.release)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Version, str)) or hasattr(other, "release"):
            return self.release == release_tuple(other)
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        return self.release < release_tuple(other)


ENVD_VERSION_RECURSIVE_WATCH = Version("0.1.4")
ENVD_DEBUG_FALLBACK = Version("99.99.99")
ENVD_COMMANDS_STDIN = Version("0.3.0")
ENVD_DEFAULT_USER = Version("0.4.0")
ENVD_ENVD_CLOSE = Version("0.5.2")
ENVD_OCTET_STREAM_UPLOAD = Version("0.5.7")
ENVD_FILE_METADATA = Version("0.6.2")
ENVD_VERSION_FS_EVENT_ENTRY_INFO = Version("0.6.3")
ENVD_VERSION_WATCH_NETWORK_MOUNTS = Version("0.6.4")
