"""``sandbox.pty`` of :class:`e2b.AsyncSandbox`: interactive terminals in the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from e2b._bridge import wait_native
from e2b.connection_config import STREAM_INPUT_TIMEOUT, Username
from e2b.envd.utils import as_bytes, envd_user
from e2b.sandbox.commands.command_handle import PtyOutput, PtySize
from e2b.sandbox_async.commands.command_handle import AsyncCommandHandle
from e2b.sandbox_async.commands.command_input_handle import AsyncCommandInputHandle
from e2b.sandbox_async.utils import OutputHandler
from e2b.sandbox_sync.commands.pty import pty_envs

if TYPE_CHECKING:  # pragma: no cover
    from e2b.sandbox_async.main import AsyncSandbox


class Pty:
    """
    Module for interacting with PTYs (pseudo-terminals) in the sandbox.
    """

    def __init__(self, sandbox: AsyncSandbox) -> None:
        self._sandbox = sandbox

    @property
    def _envd(self) -> Any:
        return self._sandbox._envd

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return self._sandbox.connection_config.get_request_timeout(request_timeout)

    async def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        """
        Kill a PTY session (``SIGKILL``).

        :param pid: Process ID of the PTY
        :param request_timeout: Timeout for the request in **seconds**
        :return: ``True`` if the PTY was killed, ``False`` if it was not found
        """
        return await wait_native(self._envd.process_kill(True, pid, self._timeout(request_timeout)))

    async def send_stdin(self, pid: int, data: bytes, request_timeout: Optional[float] = None) -> None:
        """
        Send input to a PTY.

        :param pid: Process ID of the PTY
        :param data: Input bytes
        :param request_timeout: Timeout for the request in **seconds**
        """
        await wait_native(
            self._envd.process_send_input(True, pid, "pty", as_bytes(data), self._timeout(request_timeout))
        )

    def stream_input(self, pid: int, *, timeout: Optional[float] = STREAM_INPUT_TIMEOUT) -> AsyncCommandInputHandle:
        """
        Open an ordered input stream to a PTY.

        :param pid: Process ID of the PTY
        :param timeout: Timeout of the stream in **seconds** (default 60); ``0`` or ``None``
            disables it
        :return: :class:`AsyncCommandInputHandle`
        """
        return AsyncCommandInputHandle(self._envd, pid, "pty", timeout)

    async def create(
        self,
        size: PtySize,
        on_data: OutputHandler[PtyOutput],
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> AsyncCommandHandle:
        """
        Start a PTY running ``/bin/bash -i -l``.

        :param size: Size of the terminal
        :param on_data: Callback (sync or async) for the terminal's output
        :param user: User to run the terminal as
        :param cwd: Working directory
        :param envs: Environment variables (``TERM``, ``LANG``, ``LC_ALL`` have defaults)
        :param timeout: Lifetime of the PTY in **seconds**; ``0`` for no limit
        :param request_timeout: Timeout for opening the stream
        :return: :class:`AsyncCommandHandle` of the PTY
        """
        stream = await wait_native(
            self._envd.process_start(
                True,
                "/bin/bash",
                ["-i", "-l"],
                pty_envs(envs),
                cwd,
                envd_user(self._sandbox._envd_version, user),
                None,
                (size.rows, size.cols),
                timeout,
                self._timeout(request_timeout),
            )
        )
        pid = stream.pid
        return AsyncCommandHandle(pid=pid, handle_kill=lambda: self.kill(pid), events=stream, on_pty=on_data)

    async def connect(
        self,
        pid: int,
        on_data: OutputHandler[PtyOutput],
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> AsyncCommandHandle:
        """
        Connect to a running PTY.

        :param pid: Process ID of the PTY
        :param on_data: Callback for the terminal's output
        :param timeout: Lifetime of the connection in **seconds**; ``0`` for no limit
        :param request_timeout: Timeout for opening the stream
        :return: :class:`AsyncCommandHandle` of the PTY
        """
        stream = await wait_native(self._envd.process_connect(True, pid, timeout, self._timeout(request_timeout)))
        pid = stream.pid
        return AsyncCommandHandle(pid=pid, handle_kill=lambda: self.kill(pid), events=stream, on_pty=on_data)

    async def resize(self, pid: int, size: PtySize, request_timeout: Optional[float] = None) -> None:
        """
        Resize a PTY.

        :param pid: Process ID of the PTY
        :param size: New size
        :param request_timeout: Timeout for the request in **seconds**
        """
        await wait_native(self._envd.process_resize(True, pid, size.rows, size.cols, self._timeout(request_timeout)))
