"""``sandbox.commands`` of :class:`e2b.AsyncSandbox`: run commands and manage processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, Union, overload

from e2b._bridge import wait_native
from e2b._version import ENVD_COMMANDS_STDIN, ENVD_ENVD_CLOSE
from e2b.connection_config import STREAM_INPUT_TIMEOUT, Username
from e2b.envd.utils import as_bytes, envd_user
from e2b.exceptions import SandboxException
from e2b.sandbox.commands.command_handle import CommandResult, Stderr, Stdout
from e2b.sandbox.commands.main import ProcessInfo
from e2b.sandbox_async.commands.command_handle import AsyncCommandHandle
from e2b.sandbox_async.commands.command_input_handle import AsyncCommandInputHandle
from e2b.sandbox_async.utils import OutputHandler

if TYPE_CHECKING:  # pragma: no cover
    from e2b.sandbox_async.main import AsyncSandbox


class Commands:
    """
    Module for executing commands in the sandbox.
    """

    def __init__(self, sandbox: AsyncSandbox) -> None:
        self._sandbox = sandbox

    @property
    def _envd(self) -> Any:
        return self._sandbox._envd

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return self._sandbox.connection_config.get_request_timeout(request_timeout)

    async def list(self, request_timeout: Optional[float] = None) -> List[ProcessInfo]:
        """
        List all running commands and PTY sessions.

        :param request_timeout: Timeout for the request in **seconds**
        :return: List of running commands and PTY sessions
        """
        raw = await wait_native(self._envd.process_list(True, self._timeout(request_timeout)))
        return [ProcessInfo(**p) for p in raw]

    async def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        """
        Kill a running command (``SIGKILL``).

        :param pid: Process ID of the command
        :param request_timeout: Timeout for the request in **seconds**
        :return: ``True`` if the command was killed, ``False`` if it was not found
        """
        return await wait_native(self._envd.process_kill(True, pid, self._timeout(request_timeout)))

    async def send_stdin(self, pid: int, data: Union[str, bytes], request_timeout: Optional[float] = None) -> None:
        """
        Send data to a command's stdin (``str`` is UTF-8 encoded).

        :param pid: Process ID of the command
        :param data: Data to send
        :param request_timeout: Timeout for the request in **seconds**
        """
        await wait_native(
            self._envd.process_send_input(True, pid, "stdin", as_bytes(data), self._timeout(request_timeout))
        )

    def stream_input(self, pid: int, *, timeout: Optional[float] = STREAM_INPUT_TIMEOUT) -> AsyncCommandInputHandle:
        """
        Open an ordered input stream to a command's stdin.

        :param pid: Process ID of the command
        :param timeout: Timeout of the stream in **seconds** (default 60); ``0`` or ``None``
            disables it
        :return: :class:`AsyncCommandInputHandle` (``send``, ``close``, ``async with``)
        """
        return AsyncCommandInputHandle(self._envd, pid, "stdin", timeout)

    async def close_stdin(self, pid: int, request_timeout: Optional[float] = None) -> None:
        """
        Close a command's stdin (EOF).

        :param pid: Process ID of the command
        :param request_timeout: Timeout for the request in **seconds**
        """
        if self._sandbox._envd_older_than(ENVD_ENVD_CLOSE):
            raise SandboxException(
                f"Sandbox envd version {self._sandbox._envd_version} doesn't support closing stdin. "
                f"Please rebuild your template to pick up the latest sandbox version."
            )
        await wait_native(self._envd.process_close_stdin(True, pid, self._timeout(request_timeout)))

    @overload
    async def run(
        self,
        cmd: str,
        background: Union[Literal[False], None] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ) -> CommandResult: ...

    @overload
    async def run(
        self,
        cmd: str,
        background: Literal[True],
        envs: Optional[Dict[str, str]] = None,
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ) -> AsyncCommandHandle: ...

    async def run(
        self,
        cmd: str,
        background: Union[bool, None] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ):
        """
        Run ``/bin/bash -l -c <cmd>`` in the sandbox.

        :param cmd: Command to execute
        :param background: ``True`` to return an :class:`AsyncCommandHandle` at once
        :param envs: Environment variables for the command
        :param user: User to run the command as
        :param cwd: Working directory of the command
        :param on_stdout: Callback (sync or async) for stdout output
        :param on_stderr: Callback (sync or async) for stderr output
        :param stdin: ``True`` to keep stdin open for :meth:`send_stdin`
        :param timeout: Lifetime of the command in **seconds** (it is killed then); ``0``
            for no limit
        :param request_timeout: Timeout for opening the stream (the wait for the start event)
        :param retain_output: ``False`` keeps no stdout/stderr in memory

        :return: :class:`CommandResult` (foreground; a non-zero exit raises
            :class:`CommandExitException`) or :class:`AsyncCommandHandle` (background)
        """
        if stdin is False and self._sandbox._envd_older_than(ENVD_COMMANDS_STDIN):
            raise SandboxException(
                f"Sandbox envd version {self._sandbox._envd_version} can't specify stdin, it's always turned on. "
                f"Please rebuild your template if you need this feature."
            )
        stream = await wait_native(
            self._envd.process_start(
                True,
                "/bin/bash",
                ["-l", "-c", cmd],
                envs,
                cwd,
                envd_user(self._sandbox._envd_version, user),
                bool(stdin),
                None,
                timeout,
                self._timeout(request_timeout),
            )
        )
        handle = self._handle(stream, on_stdout, on_stderr, retain_output)
        return handle if background else await handle.wait()

    async def connect(
        self,
        pid: int,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        *,
        retain_output: bool = True,
    ) -> AsyncCommandHandle:
        """
        Connect to a running command (only output produced from now on is received).

        :param pid: Process ID of the command
        :param timeout: Lifetime of the connection in **seconds**; ``0`` for no limit
        :param request_timeout: Timeout for opening the stream
        :param on_stdout: Callback for stdout output
        :param on_stderr: Callback for stderr output
        :param retain_output: ``False`` keeps no stdout/stderr in memory
        :return: :class:`AsyncCommandHandle` of the command
        """
        stream = await wait_native(self._envd.process_connect(True, pid, timeout, self._timeout(request_timeout)))
        return self._handle(stream, on_stdout, on_stderr, retain_output)

    def _handle(
        self,
        stream: Any,
        on_stdout: Optional[OutputHandler[Stdout]],
        on_stderr: Optional[OutputHandler[Stderr]],
        retain_output: bool,
    ) -> AsyncCommandHandle:
        pid = stream.pid
        return AsyncCommandHandle(
            pid=pid,
            handle_kill=lambda: self.kill(pid),
            events=stream,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
            handle_send_stdin=lambda data, request_timeout=None: self.send_stdin(pid, data, request_timeout),
            handle_close_stdin=lambda request_timeout=None: self.close_stdin(pid, request_timeout),
            retain_output=retain_output,
        )
