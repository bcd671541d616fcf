"""Filesystem types: entries, write results and write inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import IO, AsyncIterable, Dict, Iterable, Optional, TypedDict, Union


class FileType(Enum):
    """Type of a filesystem entry."""

    FILE = "file"
    """Regular file."""
    DIR = "dir"
    """Directory."""
    SYMLINK = "symlink"
    """Symbolic link."""


@dataclass(init=False)
class WriteInfo:
    """Information about a written file or directory."""

    name: str
    """Name of the entry."""
    type: Optional[FileType]
    """Type of the entry."""
    path: str
    """Absolute path of the entry."""
    metadata: Optional[Dict[str, str]] = None
    """Custom metadata of the file (envd 0.6.2+); keyword-only."""

    def __init__(self, name: str, type: Optional[FileType], path: str, *, metadata: Optional[Dict[str, str]] = None):
        self.name = name
        self.type = type
        self.path = path
        self.metadata = metadata

    @classmethod
    def from_dict(cls, payload: Dict) -> "WriteInfo":
        """Builds a :class:`WriteInfo` from an item of envd's upload response."""
        kind = payload.get("type")
        return cls(
            name=payload["name"],
            type=FileType(kind) if kind in ("file", "dir") else None,
            path=payload["path"],
            metadata=payload.get("metadata"),
        )


@dataclass(init=False)
class EntryInfo(WriteInfo):
    """Information about a filesystem entry."""

    size: int
    """Size in bytes."""
    mode: int
    """Permission bits (e.g. ``0o644``)."""
    permissions: str
    """Permissions as a string, e.g. ``-rw-r--r--``."""
    owner: str
    """Owner name."""
    group: str
    """Group name."""
    modified_time: datetime
    """Last modification time (UTC)."""
    symlink_target: Optional[str] = None
    """Resolved target if the entry is a symlink."""

    def __init__(
        self,
        name: str,
        type: Optional[FileType],
        path: str,
        size: int,
        mode: int,
        permissions: str,
        owner: str,
        group: str,
        modified_time: datetime,
        symlink_target: Optional[str] = None,
        *,
        metadata: Optional[Dict[str, str]] = None,
    ):
        super().__init__(name, type, path, metadata=metadata)
        self.size = size
        self.mode = mode
        self.permissions = permissions
        self.owner = owner
        self.group = group
        self.modified_time = modified_time
        self.symlink_target = symlink_target


WriteData = Union[str, bytes, IO, Iterable[bytes]]
"""Data accepted by ``files.write``."""

AsyncWriteData = Union[str, bytes, IO, AsyncIterable[bytes]]
"""Data accepted by the async ``files.write``."""


class WriteEntry(TypedDict):
    """One file of ``files.write_files``."""

    path: str
    data: Union[str, bytes, IO]


class SyncWriteEntry(TypedDict):
    """One file of ``files.write_files`` with iterable data."""

    path: str
    data: WriteData


class AsyncWriteEntry(TypedDict):
    """One file of the async ``files.write_files`` with async-iterable data."""

    path: str
    data: AsyncWriteData
