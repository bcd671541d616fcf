"""``AsyncCommandInputHandle``: ordered input to a command or PTY over one stream."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from e2b._bridge import wait_native
from e2b.envd.utils import as_bytes
from e2b.exceptions import SandboxException

InputKind = Literal["stdin", "pty"]


class AsyncCommandInputHandle:
    """
    An ordered, long-lived input stream to a command (``commands.stream_input``) or PTY
    (``pty.stream_input``). The stream opens at once; a keepalive goes out after every 50 s
    without input. Use it as an async context manager or call :meth:`close`.
    """

    def __init__(self, envd: Any, pid: int, input_kind: InputKind, timeout: Optional[float]) -> None:
        self._pid = pid
        self._input_kind = input_kind
        self._stream = envd.process_stream_input(pid, input_kind, timeout)
        self._closing = False

    async def send(self, data: Union[str, bytes]) -> None:
        """
        Queue input for ordered transmission (returns once queued).

        :param data: Input data (``str`` is UTF-8 encoded)
        :raises NotFoundException: If the command or PTY does not exist
        :raises SandboxException: If this handle is closed
        """
        if self._closing:
            raise SandboxException(
                "Cannot send input after the input handle is closed. Open a new one "
                "with `sandbox.commands.stream_input(pid)` or `sandbox.pty.stream_input(pid)`."
            )
        self._stream.push(as_bytes(data))

    async def close(self) -> None:
        """
        Finish the input stream and wait for envd to acknowledge it.

        :raises NotFoundException: If the command or PTY does not exist
        :raises TimeoutException: If the input stream timed out
        """
        self._closing = True
        await wait_native(self._stream.finish(True))

    async def __aenter__(self) -> AsyncCommandInputHandle:
        return self

    async def __aexit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        await self.close()
