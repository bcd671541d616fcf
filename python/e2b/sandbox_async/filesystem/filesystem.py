"""``sandbox.files`` of :class:`e2b.AsyncSandbox`: read, write, list and watch files in the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Sequence, Union, overload

from e2b._bridge import wait_native
from e2b._version import (
    ENVD_FILE_METADATA,
    ENVD_OCTET_STREAM_UPLOAD,
    ENVD_VERSION_FS_EVENT_ENTRY_INFO,
    ENVD_VERSION_RECURSIVE_WATCH,
    ENVD_VERSION_WATCH_NETWORK_MOUNTS,
)
from e2b.connection_config import Username
from e2b.envd.utils import envd_user
from e2b.exceptions import InvalidArgumentException, SandboxException, TemplateException
from e2b.sandbox.filesystem.filesystem import (
    AsyncFileStreamReader,
    AsyncWriteData,
    AsyncWriteEntry,
    EntryInfo,
    WriteEntry,
    WriteInfo,
    aiter_upload_chunks,
    map_entry_info,
    plan_upload,
    validate_metadata,
    write_infos,
)
from e2b.sandbox.filesystem.watch_handle import FilesystemEvent
from e2b.sandbox_async.filesystem.watch_handle import AsyncWatchHandle
from e2b.sandbox_async.utils import OutputHandler

if TYPE_CHECKING:  # pragma: no cover
    from e2b.sandbox_async.main import AsyncSandbox


class Filesystem:
    """
    Module for interacting with the filesystem in the sandbox.
    """

    def __init__(self, sandbox: AsyncSandbox) -> None:
        self._sandbox = sandbox

    @property
    def _envd(self) -> Any:
        return self._sandbox._envd

    def _user(self, user: Optional[str]) -> Optional[str]:
        return envd_user(self._sandbox._envd_version, user)

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return self._sandbox.connection_config.get_request_timeout(request_timeout)

    @overload
    async def read(
        self,
        path: str,
        format: Literal["text"] = "text",
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
    ) -> str: ...

    @overload
    async def read(
        self,
        path: str,
        format: Literal["bytes"],
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
    ) -> bytearray: ...

    @overload
    async def read(
        self,
        path: str,
        format: Literal["stream"],
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
        stream_idle_timeout: Optional[float] = None,
    ) -> AsyncFileStreamReader: ...

    async def read(
        self,
        path: str,
        format: Literal["text", "bytes", "stream"] = "text",
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
        stream_idle_timeout: Optional[float] = None,
    ):
        """
        Read file content.

        :param path: Path to the file
        :param format: ``"text"`` (a ``str``, the default), ``"bytes"`` (a ``bytearray``) or
            ``"stream"`` (an :class:`AsyncFileStreamReader` over ``bytes`` chunks)
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds**; for ``"stream"`` it is
            the deadline of the whole transfer and applies only when given
        :param gzip: Ask for gzip compression of the download
        :param stream_idle_timeout: Idle bound between chunks of a streamed read in
            **seconds** (default 60; ``0`` disables it)

        :return: File content in the requested format
        """
        username = self._user(user)
        if format == "stream":
            explicit = self._sandbox.connection_config._get_request_timeout(None, request_timeout)
            stream = await wait_native(
                self._envd.files_download(True, path, username, gzip, stream_idle_timeout, explicit)
            )
            return AsyncFileStreamReader(stream)
        data = await wait_native(self._envd.files_read(True, path, username, gzip, self._timeout(request_timeout)))
        if format == "bytes":
            return bytearray(data)
        return data.decode("utf-8", errors="replace")

    async def write(
        self,
        path: str,
        data: AsyncWriteData,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
        use_octet_stream: Optional[bool] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> WriteInfo:
        """
        Write content to a file on the path. Writing creates the file (and the directories on
        its path) or overwrites it. File-like objects and iterables of ``bytes`` are streamed
        in chunks, never buffered whole.

        :param path: Path to the file
        :param data: A ``str``, ``bytes``, file-like object, or async iterable of ``bytes``
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds** (not applied to
            streamed data)
        :param gzip: Gzip-compress the upload (implies the octet-stream upload)
        :param use_octet_stream: Upload as ``application/octet-stream`` instead of
            ``multipart/form-data``; by default only for file-like or iterable data
        :param metadata: Metadata stored on the file as ``user.e2b.*`` extended attributes

        :return: Information about the written file
        """
        result = await self.write_files(
            [AsyncWriteEntry(path=path, data=data)],
            user=user,
            request_timeout=request_timeout,
            gzip=gzip,
            use_octet_stream=use_octet_stream,
            metadata=metadata,
        )
        if len(result) != 1:
            raise SandboxException("Received unexpected response from write operation")
        return result[0]

    async def write_files(
        self,
        files: Sequence[Union[WriteEntry, AsyncWriteEntry]],
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
        use_octet_stream: Optional[bool] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> List[WriteInfo]:
        """
        Write several files (creating them and their directories, or overwriting them).

        :param files: Entries with ``path`` and ``data`` (as for :meth:`write`)
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds** (not applied to
            streamed data)
        :param gzip: Gzip-compress the uploads (implies the octet-stream upload)
        :param use_octet_stream: Upload as ``application/octet-stream`` (one request per file)
        :param metadata: Metadata stored on every file

        :return: Information about the written files
        """
        if len(files) == 0:
            return []
        validate_metadata(metadata)
        if metadata and self._sandbox._envd_older_than(ENVD_FILE_METADATA):
            raise TemplateException("File metadata requires envd 0.6.2 or later.")
        plan = plan_upload(
            files,
            gzip,
            use_octet_stream,
            not self._sandbox._envd_older_than(ENVD_OCTET_STREAM_UPLOAD),
            is_async=True,
        )
        username = self._user(user)
        timeout = None if plan.streamed else self._timeout(request_timeout)
        results: List[WriteInfo] = []
        if plan.octet_stream:
            import asyncio

            # One request per file, run concurrently (as upstream).
            async def one(file: Any) -> List[WriteInfo]:
                upload = self._envd.files_upload("octet", file["path"], username, plan.gzip, metadata, timeout)
                async for chunk in aiter_upload_chunks(file["data"]):
                    await wait_native(upload.send(True, chunk))
                return write_infos(await wait_native(upload.finish(True)))

            for infos in await asyncio.gather(*(one(f) for f in files)):
                results.extend(infos)
            return results
        path = files[0]["path"] if len(files) == 1 else None
        upload = self._envd.files_upload("multipart", path, username, False, metadata, timeout)
        for file in files:
            await wait_native(upload.begin_file(True, file["path"]))
            async for chunk in aiter_upload_chunks(file["data"]):
                await wait_native(upload.send(True, chunk))
        return write_infos(await wait_native(upload.finish(True)))

    async def list(
        self,
        path: str,
        depth: Optional[int] = 1,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
    ) -> List[EntryInfo]:
        """
        List entries in a directory.

        :param path: Path to the directory
        :param depth: Depth of the directory to list (at least 1)
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds**

        :return: List of entries in the directory
        """
        if depth is not None and depth < 1:
            raise InvalidArgumentException("depth should be at least 1")
        raw = await wait_native(
            self._envd.fs_list(True, path, depth or 0, self._user(user), self._timeout(request_timeout))
        )
        # Entries of an unknown type (a dangling symlink, a socket) are left out, as upstream.
        return [map_entry_info(e) for e in raw if e["type"] is not None]

    async def exists(
        self,
        path: str,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
    ) -> bool:
        """
        Check if a file or a directory exists.

        :param path: Path to a file or a directory
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds**

        :return: ``True`` if the file or directory exists, ``False`` otherwise
        """
        return await wait_native(self._envd.fs_exists(True, path, self._user(user), self._timeout(request_timeout)))

    async def get_info(
        self,
        path: str,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
    ) -> EntryInfo:
        """
        Get information about a file or directory.

        :param path: Path to a file or a directory
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds**

        :return: Information about the file or directory like name, type, and path
        """
        raw = await wait_native(self._envd.fs_stat(True, path, self._user(user), self._timeout(request_timeout)))
        return map_entry_info(raw)

    async def remove(
        self,
        path: str,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        """
        Remove a file or a directory (recursively; a missing path is not an error).

        :param path: Path to a file or a directory
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds**
        """
        await wait_native(self._envd.fs_remove(True, path, self._user(user), self._timeout(request_timeout)))

    async def rename(
        self,
        old_path: str,
        new_path: str,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
    ) -> EntryInfo:
        """
        Rename a file or directory.

        :param old_path: Path to the file or directory to rename
        :param new_path: New path to the file or directory
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds**

        :return: Information about the renamed file or directory
        """
        raw = await wait_native(
            self._envd.fs_rename(True, old_path, new_path, self._user(user), self._timeout(request_timeout))
        )
        return map_entry_info(raw)

    async def make_dir(
        self,
        path: str,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
    ) -> bool:
        """
        Create a directory and all directories along the way if needed.

        :param path: Path to the new directory
        :param user: Run the operation as this user
        :param request_timeout: Timeout for the request in **seconds**

        :return: ``True`` if the directory was created, ``False`` if it already exists
        """
        return await wait_native(self._envd.fs_make_dir(True, path, self._user(user), self._timeout(request_timeout)))

    async def watch_dir(
        self,
        path: str,
        on_event: OutputHandler[FilesystemEvent],
        on_exit: Optional[OutputHandler[Optional[Exception]]] = None,
        user: Optional[Username] = None,
        request_timeout: Optional[float] = None,
        timeout: Optional[float] = 60,
        recursive: bool = False,
        include_entry: bool = False,
        allow_network_mounts: bool = False,
    ) -> AsyncWatchHandle:
        """
        Watch a directory for filesystem events, delivered to ``on_event``.

        :param path: Path to a directory to watch
        :param on_event: Callback (sync or async) for each event
        :param on_exit: Callback called once when the watch ends (with the error, or ``None``)
        :param user: Run the operation as this user
        :param request_timeout: Timeout for opening the watch in **seconds**
        :param timeout: Lifetime of the watch in **seconds**; ``0`` for no limit
        :param recursive: Watch the directory recursively
        :param include_entry: Include the entry's information in create, write and chmod events
        :param allow_network_mounts: Allow watching network file system mounts

        :return: :class:`AsyncWatchHandle` to stop watching
        """
        if recursive and self._sandbox._envd_older_than(ENVD_VERSION_RECURSIVE_WATCH):
            raise TemplateException("You need to update the template to use recursive watching.")
        if include_entry and self._sandbox._envd_older_than(ENVD_VERSION_FS_EVENT_ENTRY_INFO):
            raise TemplateException("You need to update the template to include entry info in watch events.")
        if allow_network_mounts and self._sandbox._envd_older_than(ENVD_VERSION_WATCH_NETWORK_MOUNTS):
            raise TemplateException("You need to update the template to watch directories on network mounts.")
        stream = await wait_native(
            self._envd.fs_watch_dir(
                True,
                path,
                recursive,
                include_entry,
                allow_network_mounts,
                self._user(user),
                timeout,
                self._timeout(request_timeout),
            )
        )
        return AsyncWatchHandle(events=stream, on_event=on_event, on_exit=on_exit)
