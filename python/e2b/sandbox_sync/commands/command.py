"""``sandbox.commands`` of :class:`e2b.Sandbox`: run commands and manage processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Literal, Optional, Union, overload

from e2b._version import ENVD_COMMANDS_STDIN, ENVD_ENVD_CLOSE
from e2b.connection_config import STREAM_INPUT_TIMEOUT, Username
from e2b.envd.utils import as_bytes, envd_user
from e2b.exceptions import InvalidArgumentException, SandboxException
from e2b.sandbox.commands.command_handle import CommandResult
from e2b.sandbox.commands.main import ProcessInfo
from e2b.sandbox_sync.commands.command_handle import CommandHandle

if TYPE_CHECKING:  # pragma: no cover
    from e2b.sandbox_sync.main import Sandbox


def stream_input_sync(
    envd: Any, pid: int, kind: str, data: Iterable[Union[str, bytes]], timeout: Optional[float]
) -> None:
    """Sends ``data`` over one ``Process/StreamInput`` call and waits for envd's answer."""
    if isinstance(data, (str, bytes, bytearray, memoryview)):
        raise InvalidArgumentException(
            "`data` must be an iterable of str or bytes chunks, not a single "
            "chunk; wrap it in a list, e.g. `stream_input(pid, [data])`."
        )
    stream = envd.process_stream_input(pid, kind, timeout)
    for item in data:
        stream.push(as_bytes(item))
    stream.finish(False)


class Commands:
    """
    Module for executing commands in the sandbox.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    @property
    def _envd(self) -> Any:
        return self._sandbox._envd

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return self._sandbox.connection_config.get_request_timeout(request_timeout)

    def list(self, request_timeout: Optional[float] = None) -> List[ProcessInfo]:
        """
        List all running commands and PTY sessions.

        :param request_timeout: Timeout for the request in **seconds**
        :return: List of running commands and PTY sessions
        """
        return [ProcessInfo(**p) for p in self._envd.process_list(False, self._timeout(request_timeout))]

    def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        """
        Kill a running command (``SIGKILL``).

        :param pid: Process ID of the command (see :meth:`list`)
        :param request_timeout: Timeout for the request in **seconds**
        :return: ``True`` if the command was killed, ``False`` if it was not found
        """
        return self._envd.process_kill(False, pid, self._timeout(request_timeout))

    def send_stdin(self, pid: int, data: Union[str, bytes], request_timeout: Optional[float] = None) -> None:
        """
        Send data to a command's stdin (``str`` is UTF-8 encoded).

        :param pid: Process ID of the command
        :param data: Data to send
        :param request_timeout: Timeout for the request in **seconds**
        """
        self._envd.process_send_input(False, pid, "stdin", as_bytes(data), self._timeout(request_timeout))

    def stream_input(
        self,
        pid: int,
        data: Iterable[Union[str, bytes]],
        *,
        timeout: Optional[float] = STREAM_INPUT_TIMEOUT,
    ) -> None:
        """
        Stream input to a command's stdin over one stream, in order. Blocks until ``data`` is
        exhausted and envd acknowledged it.

        :param pid: Process ID of the command
        :param data: Iterable of ``str`` or ``bytes`` chunks
        :param timeout: Timeout in **seconds** (default 60); ``0`` or ``None`` disables it
        :raises NotFoundException: If the command does not exist
        :raises InvalidArgumentException: If ``data`` is a single ``str``/``bytes`` value
        """
        stream_input_sync(self._envd, pid, "stdin", data, timeout)

    def close_stdin(self, pid: int, request_timeout: Optional[float] = None) -> None:
        """
        Close a command's stdin (EOF); the command must have been started with ``stdin=True``.

        :param pid: Process ID of the command
        :param request_timeout: Timeout for the request in **seconds**
        """
        if self._sandbox._envd_older_than(ENVD_ENVD_CLOSE):
            raise SandboxException(
                f"Sandbox envd version {self._sandbox._envd_version} doesn't support closing stdin. "
                f"Please rebuild your template to pick up the latest sandbox version."
            )
        self._envd.process_close_stdin(False, pid, self._timeout(request_timeout))

    @overload
    def run(
        self,
        cmd: str,
        background: Union[Literal[False], None] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[Callable[[str], None]] = None,
        on_stderr: Optional[Callable[[str], None]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ) -> CommandResult: ...

    @overload
    def run(
        self,
        cmd: str,
        background: Literal[True],
        envs: Optional[Dict[str, str]] = None,
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        on_stdout: None = None,
        on_stderr: None = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ) -> CommandHandle: ...

    def run(
        self,
        cmd: str,
        background: Union[bool, None] = None,
        envs: Optional[Dict[str, str]] = None,
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[Callable[[str], None]] = None,
        on_stderr: Optional[Callable[[str], None]] = None,
        stdin: Optional[bool] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ):
        """
        Run ``/bin/bash -l -c <cmd>`` in the sandbox.

        :param cmd: Command to execute
        :param background: ``True`` to return a :class:`CommandHandle` at once instead of
            waiting for the command
        :param envs: Environment variables for the command
        :param user: User to run the command as
        :param cwd: Working directory of the command
        :param on_stdout: Callback for stdout output (foreground only)
        :param on_stderr: Callback for stderr output (foreground only)
        :param stdin: ``True`` to keep stdin open for :meth:`send_stdin`
        :param timeout: Lifetime of the command in **seconds** (it is killed then); ``0``
            for no limit
        :param request_timeout: Not applied to this streaming call
        :param retain_output: ``False`` keeps no stdout/stderr in memory (they are ``None``
            on the result); use the callbacks instead

        :return: :class:`CommandResult` (foreground; a non-zero exit raises
            :class:`CommandExitException`) or :class:`CommandHandle` (background)
        """
        if stdin is False and self._sandbox._envd_older_than(ENVD_COMMANDS_STDIN):
            raise SandboxException(
                f"Sandbox envd version {self._sandbox._envd_version} can't specify stdin, it's always turned on. "
                f"Please rebuild your template if you need this feature."
            )
        stream = self._envd.process_start(
            False,
            "/bin/bash",
            ["-l", "-c", cmd],
            envs,
            cwd,
            envd_user(self._sandbox._envd_version, user),
            bool(stdin),
            None,
            timeout,
            None,
        )
        handle = self._handle(stream, retain_output)
        return handle if background else handle.wait(on_stdout=on_stdout, on_stderr=on_stderr)

    def connect(
        self,
        pid: int,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
        *,
        retain_output: bool = True,
    ) -> CommandHandle:
        """
        Connect to a running command (only output produced from now on is received).

        :param pid: Process ID of the command (see :meth:`list`)
        :param timeout: Lifetime of the connection in **seconds**; ``0`` for no limit
        :param request_timeout: Not applied to this streaming call
        :param retain_output: ``False`` keeps no stdout/stderr in memory
        :return: :class:`CommandHandle` of the command
        """
        stream = self._envd.process_connect(False, pid, timeout, None)
        return self._handle(stream, retain_output)

    def _handle(self, stream: Any, retain_output: bool) -> CommandHandle:
        pid = stream.pid
        return CommandHandle(
            pid=pid,
            handle_kill=lambda: self.kill(pid),
            events=stream,
            handle_send_stdin=lambda data, request_timeout=None: self.send_stdin(pid, data, request_timeout),
            handle_close_stdin=lambda request_timeout=None: self.close_stdin(pid, request_timeout),
            retain_output=retain_output,
        )
