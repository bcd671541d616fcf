"""``sandbox.files``, ``sandbox.commands`` and ``sandbox.pty`` of this build.

These modules talk to envd (Connect RPC and ``/files``), which this build does not implement
yet: every method raises ``NotImplementedError`` with a message naming it, rather than
pretending to work. The handle types exist so that imports and type annotations written for
upstream keep working.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Union

_MESSAGE = "{} is not implemented yet in this build (lifecycle and run_code are; files, commands and pty come next)"


def _not_yet(name: str) -> NotImplementedError:
    return NotImplementedError(_MESSAGE.format(name))


class Filesystem:
    """Filesystem of the sandbox (``sandbox.files``) — not implemented yet in this build."""

    def __init__(self, sandbox: Any = None):
        self._sandbox = sandbox

    def read(
        self,
        path: str,
        format: str = "text",
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
        stream_idle_timeout: Optional[float] = None,
    ) -> Any:
        """Reads a file. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.read")

    def write(
        self,
        path: str,
        data: Any,
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
        use_octet_stream: Optional[bool] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> Any:
        """Writes a file. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.write")

    def write_files(
        self,
        files: List[Any],
        user: Optional[str] = None,
        request_timeout: Optional[float] = None,
        gzip: bool = False,
        use_octet_stream: Optional[bool] = None,
        metadata: Optional[Dict[str, str]] = None,
    ) -> Any:
        """Writes several files. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.write_files")

    def list(
        self, path: str, depth: Optional[int] = 1, user: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> Any:
        """Lists a directory. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.list")

    def exists(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> Any:
        """Checks whether a path exists. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.exists")

    def get_info(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> Any:
        """Returns information about a path. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.get_info")

    def remove(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> Any:
        """Removes a path. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.remove")

    def rename(
        self, old_path: str, new_path: str, user: Optional[str] = None, request_timeout: Optional[float] = None
    ) -> Any:
        """Renames a path. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.rename")

    def make_dir(self, path: str, user: Optional[str] = None, request_timeout: Optional[float] = None) -> Any:
        """Creates a directory. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.make_dir")

    def watch_dir(self, path: str, *args: Any, **kwargs: Any) -> Any:
        """Watches a directory. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.watch_dir")


class AsyncFilesystem(Filesystem):
    """Filesystem of the async sandbox (``sandbox.files``) — not implemented yet in this build."""

    async def read(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Reads a file. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.read")

    async def write(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Writes a file. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.write")

    async def write_files(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Writes several files. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.write_files")

    async def list(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Lists a directory. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.list")

    async def exists(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Checks whether a path exists. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.exists")

    async def get_info(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Returns information about a path. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.get_info")

    async def remove(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Removes a path. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.remove")

    async def rename(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Renames a path. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.rename")

    async def make_dir(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Creates a directory. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.make_dir")

    async def watch_dir(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Watches a directory. Not implemented yet in this build."""
        raise _not_yet("sandbox.files.watch_dir")


class Commands:
    """Commands of the sandbox (``sandbox.commands``) — not implemented yet in this build."""

    def __init__(self, sandbox: Any = None):
        self._sandbox = sandbox

    def run(
        self,
        cmd: str,
        background: Optional[bool] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[str] = None,
        cwd: Optional[str] = None,
        on_stdout: Any = None,
        on_stderr: Any = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ) -> Any:
        """Runs a command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.run")

    def connect(self, pid: int, *args: Any, **kwargs: Any) -> Any:
        """Connects to a running command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.connect")

    def list(self, request_timeout: Optional[float] = None) -> Any:
        """Lists running commands. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.list")

    def kill(self, pid: int, request_timeout: Optional[float] = None) -> Any:
        """Kills a command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.kill")

    def send_stdin(self, pid: int, data: Union[str, bytes], request_timeout: Optional[float] = None) -> Any:
        """Sends data to a command's stdin. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.send_stdin")

    def close_stdin(self, pid: int, request_timeout: Optional[float] = None) -> Any:
        """Closes a command's stdin. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.close_stdin")

    def stream_input(self, pid: int, data: Iterable[Union[str, bytes]] = (), *, timeout: Optional[float] = 60.0) -> Any:
        """Streams input to a command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.stream_input")


class AsyncCommands(Commands):
    """Commands of the async sandbox (``sandbox.commands``) — not implemented yet in this build."""

    async def run(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Runs a command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.run")

    async def connect(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Connects to a running command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.connect")

    async def list(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Lists running commands. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.list")

    async def kill(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Kills a command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.kill")

    async def send_stdin(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Sends data to a command's stdin. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.send_stdin")

    async def close_stdin(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Closes a command's stdin. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.close_stdin")

    def stream_input(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Streams input to a command. Not implemented yet in this build."""
        raise _not_yet("sandbox.commands.stream_input")


class Pty:
    """Pseudo-terminals of the sandbox (``sandbox.pty``) — not implemented yet in this build."""

    def __init__(self, sandbox: Any = None):
        self._sandbox = sandbox

    def create(self, size: Any, *args: Any, **kwargs: Any) -> Any:
        """Starts a PTY session. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.create")

    def connect(self, pid: int, *args: Any, **kwargs: Any) -> Any:
        """Connects to a PTY session. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.connect")

    def send_stdin(self, pid: int, data: bytes, request_timeout: Optional[float] = None) -> Any:
        """Sends input to a PTY. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.send_stdin")

    def resize(self, pid: int, size: Any, request_timeout: Optional[float] = None) -> Any:
        """Resizes a PTY. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.resize")

    def kill(self, pid: int, request_timeout: Optional[float] = None) -> Any:
        """Kills a PTY session. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.kill")

    def stream_input(self, pid: int, data: Iterable[Union[str, bytes]] = (), *, timeout: Optional[float] = 60.0) -> Any:
        """Streams input to a PTY. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.stream_input")


class AsyncPty(Pty):
    """Pseudo-terminals of the async sandbox (``sandbox.pty``) — not implemented yet in this build."""

    async def create(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Starts a PTY session. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.create")

    async def connect(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Connects to a PTY session. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.connect")

    async def send_stdin(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Sends input to a PTY. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.send_stdin")

    async def resize(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Resizes a PTY. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.resize")

    async def kill(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Kills a PTY session. Not implemented yet in this build."""
        raise _not_yet("sandbox.pty.kill")


class CommandHandle:
    """Handle of a running command (sync). Returned by ``commands.run(background=True)``,
    which is not implemented yet in this build."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise _not_yet("CommandHandle")


class AsyncCommandHandle:
    """Handle of a running command (async). Not implemented yet in this build."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise _not_yet("AsyncCommandHandle")


class AsyncCommandInputHandle:
    """Handle streaming input to a process (async). Not implemented yet in this build."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise _not_yet("AsyncCommandInputHandle")


class WatchHandle:
    """Handle of a directory watch (sync). Not implemented yet in this build."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise _not_yet("WatchHandle")


class AsyncWatchHandle:
    """Handle of a directory watch (async). Not implemented yet in this build."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise _not_yet("AsyncWatchHandle")
