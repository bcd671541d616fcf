"""Filesystem watch events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from e2b.sandbox.filesystem.filesystem import EntryInfo


class FilesystemEventType(Enum):
    """Type of a filesystem event."""

    CHMOD = "chmod"
    """Permissions changed."""
    CREATE = "create"
    """Entry created."""
    REMOVE = "remove"
    """Entry removed."""
    RENAME = "rename"
    """Entry renamed."""
    WRITE = "write"
    """File written."""


@dataclass
class FilesystemEvent:
    """A change in a watched directory."""

    name: str
    """Path of the entry, relative to the watched directory."""
    type: FilesystemEventType
    """What happened."""
    entry: Optional[EntryInfo] = None
    """Entry info, when requested with ``include_entry`` and still available."""


def map_event(raw: Any) -> FilesystemEvent:
    """Builds a :class:`FilesystemEvent` from the native client's ``(name, type, entry)``."""
    from e2b.sandbox.filesystem.filesystem import map_entry_info

    name, kind, entry = raw
    return FilesystemEvent(
        name=name,
        type=FilesystemEventType(kind),
        entry=map_entry_info(entry) if entry is not None else None,
    )
