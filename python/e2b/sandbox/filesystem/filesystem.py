"""Filesystem types: entries, write results and write inputs, the streamed-download readers,
and the upload rules both SDK flavours share (which data types stream, how uploads are
framed, metadata validation)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from io import IOBase
from typing import (
    IO,
    Any,
    AsyncIterable,
    AsyncIterator,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    TypedDict,
    Union,
)

from e2b.exceptions import InvalidArgumentException, TemplateException


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
    def from_dict(cls, payload: Dict) -> WriteInfo:
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


AnyWriteEntry = Union[WriteEntry, SyncWriteEntry, AsyncWriteEntry]

IO_CHUNK_SIZE = 1 << 20
"""Size of the chunks read from file-like upload data."""


def map_file_type(value: Optional[str]) -> Optional[FileType]:
    """The :class:`FileType` of a type name (``"file"``, ``"dir"``, ``"symlink"``), else ``None``."""
    try:
        return FileType(value) if value else None
    except ValueError:
        return None


def map_entry_info(raw: Dict[str, Any]) -> EntryInfo:
    """Builds an :class:`EntryInfo` from the native client's entry dict (a symlink is
    ``FileType.SYMLINK`` whatever its target is, as 2.63.0 maps ``isSymlink``)."""
    seconds, nanos = raw["modified_time"]
    modified = datetime.fromtimestamp(0, tz=timezone.utc) + timedelta(seconds=seconds, microseconds=nanos // 1000)
    return EntryInfo(
        name=raw["name"],
        type=FileType.SYMLINK if raw.get("is_symlink") else map_file_type(raw["type"]),
        path=raw["path"],
        size=raw["size"],
        mode=raw["mode"],
        permissions=raw["permissions"],
        owner=raw["owner"],
        group=raw["group"],
        modified_time=modified,
        symlink_target=raw["symlink_target"],
        metadata=dict(raw["metadata"]) if raw.get("metadata") else None,
    )


class FileStreamReader(Iterator[bytes]):
    """
    Iterator over a streamed file download (``Sandbox.files.read(format="stream")``).

    It owns the download and releases its connection once fully consumed, when a read fails,
    or when closed — consume it fully, use it as a context manager, or call :meth:`close`::

        with sandbox.files.read(path, format="stream") as stream:
            for chunk in stream:
                ...
    """

    def __init__(self, stream: Any):
        self._stream = stream
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            chunk = self._stream.next_chunk()
        except BaseException:
            self.close()
            raise
        if chunk is None:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        """Release the download's connection. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._stream.close()

    def __enter__(self) -> FileStreamReader:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class AsyncFileStreamReader(AsyncIterator[bytes]):
    """
    Async iterator over a streamed file download (``AsyncSandbox.files.read(format="stream")``).

    Consume it fully, use it as an async context manager, or call :meth:`aclose`::

        async with await sandbox.files.read(path, format="stream") as stream:
            async for chunk in stream:
                ...
    """

    def __init__(self, stream: Any):
        self._stream = stream
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        from e2b._bridge import wait_native

        if self._closed:
            raise StopAsyncIteration
        try:
            chunk = await wait_native(self._stream.anext_chunk())
        except BaseException:
            await self.aclose()
            raise
        if chunk is None:
            await self.aclose()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        """Release the download's connection. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._stream.close()

    async def __aenter__(self) -> AsyncFileStreamReader:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def _is_file_like(data: Any) -> bool:
    """An ``IOBase``, or any object with a synchronous ``read`` method (an async ``read``
    makes it an async iterable instead)."""
    if isinstance(data, IOBase):
        return True
    if isinstance(data, (str, bytes)):
        return False
    read = getattr(data, "read", None)
    return callable(read) and not inspect.iscoroutinefunction(read)


def _is_chunk_iterable(data: Any) -> bool:
    return (
        isinstance(data, Iterable)
        and not isinstance(data, (str, bytes, bytearray, memoryview))
        and not _is_file_like(data)
    )


def _is_async_chunk_iterable(data: Any) -> bool:
    return isinstance(data, AsyncIterable) and not _is_file_like(data)


def _is_wrong_iterable(data: Any, is_async: bool) -> bool:
    if is_async:
        return _is_chunk_iterable(data) and not _is_async_chunk_iterable(data)
    return _is_async_chunk_iterable(data) and not _is_chunk_iterable(data)


def _unsupported_data(data: Any, is_async: bool, file_path: Optional[str] = None) -> InvalidArgumentException:
    target = f" for file {file_path}" if file_path else ""
    if _is_wrong_iterable(data, is_async):
        if is_async:
            return InvalidArgumentException(
                f"Sync iterable data{target} is only supported by `Sandbox`; "
                "pass an async iterable of bytes, a file-like object or bytes to `AsyncSandbox.files.write`."
            )
        return InvalidArgumentException(
            f"Async iterable data{target} is only supported by `AsyncSandbox`; "
            "pass a sync iterable of bytes, a file-like object or bytes to `Sandbox.files.write`."
        )
    return InvalidArgumentException(f"Unsupported data type{target}: {type(data)}")


def _check_chunk(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise InvalidArgumentException(f"Iterable upload data must yield bytes chunks, got {type(chunk).__name__}")


def _slices(data: Union[str, bytes, bytearray, memoryview]) -> Iterator[bytes]:
    """In-memory data in chunks of at most ``IO_CHUNK_SIZE`` bytes (``str`` UTF-8 encoded),
    so the native side never copies it whole."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) <= IO_CHUNK_SIZE and isinstance(raw, bytes):
        yield raw
        return
    view = memoryview(raw).cast("B")
    for start in range(0, len(view), IO_CHUNK_SIZE):
        yield bytes(view[start : start + IO_CHUNK_SIZE])


def iter_upload_chunks(data: Any) -> Iterator[bytes]:
    """The bytes of sync upload data, chunk by chunk (``str`` is UTF-8 encoded)."""
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        yield from _slices(data)
    elif _is_file_like(data):
        while True:
            chunk = data.read(IO_CHUNK_SIZE)
            if not chunk:
                break
            yield chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
    elif _is_chunk_iterable(data):
        for chunk in data:
            yield _check_chunk(chunk)
    else:
        raise _unsupported_data(data, is_async=False)


async def aiter_upload_chunks(data: Any) -> AsyncIterator[bytes]:
    """The bytes of async upload data, chunk by chunk (file reads run in a worker thread)."""
    import asyncio  # not at import time: `import e2b` stays light

    if isinstance(data, (str, bytes, bytearray, memoryview)):
        for piece in _slices(data):
            yield piece
    elif _is_file_like(data):
        while True:
            chunk = await asyncio.to_thread(data.read, IO_CHUNK_SIZE)
            if not chunk:
                break
            yield chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
    elif _is_async_chunk_iterable(data):
        async for chunk in data:
            yield _check_chunk(chunk)
    else:
        raise _unsupported_data(data, is_async=True)


def check_stream_upload(
    files: Sequence[AnyWriteEntry], use_octet_stream: bool, supports_octet_stream: bool, is_async: bool
) -> None:
    """Rejects iterable data on the multipart upload (and iterables of the other flavour)."""
    for file in files:
        if _is_wrong_iterable(file["data"], is_async):
            raise _unsupported_data(file["data"], is_async, file["path"])
    if not any(_is_chunk_iterable(f["data"]) or _is_async_chunk_iterable(f["data"]) for f in files):
        return
    if not supports_octet_stream:
        raise TemplateException("Uploading iterable data requires envd 0.5.7 or later.")
    if not use_octet_stream:
        raise InvalidArgumentException(
            "Iterable data is only uploaded with octet-stream; `use_octet_stream=False` is not supported for it."
        )


_METADATA_KEY_REGEX = re.compile(r"\A[A-Za-z0-9!#$%&'*+\-.^_`|~]+\Z")
_METADATA_VALUE_REGEX = re.compile(r"\A[\x20-\x7e]*\Z")


def validate_metadata(metadata: Optional[Dict[str, str]]) -> None:
    """Validates metadata keys (HTTP token characters) and values (printable ASCII)."""
    if not metadata:
        return
    for key, value in metadata.items():
        if not _METADATA_KEY_REGEX.match(key):
            raise InvalidArgumentException(
                f"Invalid metadata key {key!r}: keys must be non-empty and use only "
                "HTTP token characters (letters, digits and !#$%&'*+-.^_`|~)."
            )
        if not _METADATA_VALUE_REGEX.match(value):
            raise InvalidArgumentException(
                f"Invalid metadata value for key {key!r}: values must be printable US-ASCII."
            )


@dataclass
class UploadPlan:
    """How ``write_files`` sends its entries: one multipart request, or one octet-stream
    request per file; ``streamed`` uploads carry no client deadline."""

    octet_stream: bool
    gzip: bool
    streamed: bool


def plan_upload(
    files: Sequence[AnyWriteEntry],
    gzip: bool,
    use_octet_stream: Optional[bool],
    supports_octet_stream: bool,
    is_async: bool,
) -> UploadPlan:
    """Applies 2.63.0's rules: file-like or iterable data defaults to octet-stream, ``gzip``
    implies it (and refuses ``use_octet_stream=False``), iterables need it."""
    streamed = any(not isinstance(f["data"], (str, bytes)) for f in files)
    if gzip and use_octet_stream is False:
        raise InvalidArgumentException(
            "`gzip` requires the octet-stream upload and can't be combined with `use_octet_stream=False`."
        )
    if use_octet_stream is None:
        use_octet_stream = streamed
    octet = bool((use_octet_stream or gzip) and supports_octet_stream)
    check_stream_upload(files, octet, supports_octet_stream, is_async)
    for f in files:
        data = f["data"]
        if isinstance(data, (str, bytes)) or _is_file_like(data):
            continue
        if not (_is_chunk_iterable(data) or _is_async_chunk_iterable(data)):
            raise _unsupported_data(data, is_async, f["path"])
    return UploadPlan(octet_stream=octet, gzip=gzip and octet, streamed=streamed)


def write_infos(raw: List[Dict[str, Any]]) -> List[WriteInfo]:
    """:class:`WriteInfo` objects of an upload response."""
    return [WriteInfo.from_dict(item) for item in raw]
