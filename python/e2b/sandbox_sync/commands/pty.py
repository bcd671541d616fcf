"""``sandbox.pty`` of :class:`e2b.Sandbox`: interactive terminals in the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, Union

from e2b.connection_config import STREAM_INPUT_TIMEOUT, Username
from e2b.envd.utils import as_bytes, envd_user
from e2b.sandbox.commands.command_handle import PtySize
from e2b.sandbox_sync.commands.command import stream_input_sync
from e2b.sandbox_sync.commands.command_handle import CommandHandle

if TYPE_CHECKING:  # pragma: no cover
    from e2b.sandbox_sync.main import Sandbox


def pty_envs(envs: Optional[Dict[str, str]]) -> Dict[str, str]:
    """The caller's envs plus the terminal defaults (``TERM``, ``LANG``, ``LC_ALL``)."""
    envs = dict(envs) if envs else {}
    envs.setdefault("TERM", "xterm-256color")
    envs.setdefault("LANG", "C.UTF-8")
    envs.setdefault("LC_ALL", "C.UTF-8")
    return envs


class Pty:
    """
    Module for interacting with PTYs (pseudo-terminals) in the sandbox.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    @property
    def _envd(self) -> Any:
        return self._sandbox._envd

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return self._sandbox.connection_config.get_request_timeout(request_timeout)

    def kill(self, pid: int, request_timeout: Optional[float] = None) -> bool:
        """
        Kill a PTY session (``SIGKILL``).

        :param pid: Process ID of the PTY
        :param request_timeout: Timeout for the request in **seconds**
        :return: ``True`` if the PTY was killed, ``False`` if it was not found
        """
        return self._envd.process_kill(False, pid, self._timeout(request_timeout))

    def send_stdin(self, pid: int, data: bytes, request_timeout: Optional[float] = None) -> None:
        """
        Send input to a PTY.

        :param pid: Process ID of the PTY
        :param data: Input bytes
        :param request_timeout: Timeout for the request in **seconds**
        """
        self._envd.process_send_input(False, pid, "pty", as_bytes(data), self._timeout(request_timeout))

    def stream_input(
        self,
        pid: int,
        data: Iterable[Union[str, bytes]],
        *,
        timeout: Optional[float] = STREAM_INPUT_TIMEOUT,
    ) -> None:
        """
        Stream input to a PTY over one stream, in order; blocks until ``data`` is exhausted
        and envd acknowledged it.

        :param pid: Process ID of the PTY
        :param data: Iterable of ``str`` or ``bytes`` chunks
        :param timeout: Timeout in **seconds** (default 60); ``0`` or ``None`` disables it
        """
        stream_input_sync(self._envd, pid, "pty", data, timeout)

    def create(
        self,
        size: PtySize,
        user: Optional[Username] = None,
        cwd: Optional[str] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = 60,
        request_timeout: Optional[float] = None,
    ) -> CommandHandle:
        """
        Start a PTY running ``/bin/bash -i -l``.

        :param size: Size of the terminal
        :param user: User to run the terminal as
        :param cwd: Working directory
        :param envs: Environment variables (``TERM``, ``LANG`` and ``LC_ALL`` default to
            ``xterm-256color`` / ``C.UTF-8``)
        :param timeout: Lifetime of the PTY in **seconds**; ``0`` for no limit
        :param request_timeout: Not applied to this streaming call
        :return: :class:`CommandHandle` of the PTY (iterate it or ``wait(on_pty=...)``)
        """
        stream = self._envd.process_start(
            False,
            "/bin/bash",
            ["-i", "-l"],
            pty_envs(envs),
            cwd,
            envd_user(self._sandbox._envd_version, user),
            None,
            (size.rows, size.cols),
            timeout,
            None,
        )
        pid = stream.pid
        return CommandHandle(pid=pid, handle_kill=lambda: self.kill(pid), events=stream)

    def connect(
        self, pid: int, timeout: Optional[float] = 60, request_timeout: Optional[float] = None
    ) -> CommandHandle:
        """
        Connect to a running PTY.

        :param pid: Process ID of the PTY
        :param timeout: Lifetime of the connection in **seconds**; ``0`` for no limit
        :param request_timeout: Not applied to this streaming call
        :return: :class:`CommandHandle` of the PTY
        """
        stream = self._envd.process_connect(False, pid, timeout, None)
        pid = stream.pid
        return CommandHandle(pid=pid, handle_kill=lambda: self.kill(pid), events=stream)

    def resize(self, pid: int, size: PtySize, request_timeout: Optional[float] = None) -> None:
        """
        Resize a PTY (call when the terminal window size changes).

        :param pid: Process ID of the PTY
        :param size: New size
        :param request_timeout: Timeout for the request in **seconds**
        """
        self._envd.process_resize(False, pid, size.rows, size.cols, self._timeout(request_timeout))
