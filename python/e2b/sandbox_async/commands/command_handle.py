"""The handle of a running command or PTY session (async)."""

from __future__ import annotations

import codecs
import inspect
from typing import Any, AsyncGenerator, Awaitable, Callable, Generic, List, Optional, Tuple, Union, cast

from e2b._bridge import wait_native
from e2b.exceptions import SandboxException
from e2b.sandbox.commands.command_handle import (
    CommandExitException,
    CommandResult,
    OutputT,
    PtyOutput,
    Stderr,
    Stdout,
    join_output,
)
from e2b.sandbox_async.utils import OutputHandler

Output = Union[Tuple[Stdout, None, None], Tuple[None, Stderr, None], Tuple[None, None, PtyOutput]]
"""One piece of output: ``(stdout, None, None)``, ``(None, stderr, None)`` or ``(None, None, pty)``."""


class AsyncCommandHandle(Generic[OutputT]):
    """
    Command execution handle: output is consumed by a background task (calling the
    callbacks given to ``run``/``connect``/``pty.create``); wait for the result, send input,
    kill or disconnect.
    """

    @property
    def pid(self) -> int:
        """Command process ID."""
        return self._pid

    @property
    def stdout(self) -> OutputT:
        """Stdout so far (``None`` with ``retain_output=False``)."""
        return self._join_output(self._stdout_chunks)

    @property
    def stderr(self) -> OutputT:
        """Stderr so far (``None`` with ``retain_output=False``)."""
        return self._join_output(self._stderr_chunks)

    @property
    def error(self) -> Optional[str]:
        """Error message of the finished command (``None`` while it runs)."""
        return None if self._result is None else self._result.error

    @property
    def exit_code(self) -> Optional[int]:
        """Exit code of the finished command (``None`` while it runs)."""
        return None if self._result is None else self._result.exit_code

    def __init__(
        self,
        pid: int,
        handle_kill: Callable[[], Awaitable[bool]],
        events: Any,
        on_stdout: Optional[OutputHandler[Stdout]] = None,
        on_stderr: Optional[OutputHandler[Stderr]] = None,
        on_pty: Optional[OutputHandler[PtyOutput]] = None,
        handle_send_stdin: Optional[Callable[[Union[str, bytes], Optional[float]], Awaitable[None]]] = None,
        handle_close_stdin: Optional[Callable[[Optional[float]], Awaitable[None]]] = None,
        check_health: Optional[Callable[[], Awaitable[Optional[bool]]]] = None,
        retain_output: bool = True,
    ):
        self._pid = pid
        self._handle_kill = handle_kill
        self._handle_send_stdin = handle_send_stdin
        self._handle_close_stdin = handle_close_stdin
        self._events = events
        self._stdout_chunks: Optional[List[str]] = [] if retain_output else None
        self._stderr_chunks: Optional[List[str]] = [] if retain_output else None
        self._stdout_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stderr_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._on_stdout = on_stdout
        self._on_stderr = on_stderr
        self._on_pty = on_pty
        self._result: Optional[CommandResult[OutputT]] = None
        self._iteration_exception: Optional[Exception] = None
        import asyncio  # not at import time: `import e2b` stays light

        self._wait = asyncio.create_task(self._handle_events())

    @staticmethod
    def _join_output(chunks: Optional[List[str]]) -> OutputT:
        return cast(OutputT, join_output(chunks))

    def _flush_decoders(self) -> List[Output]:
        events: List[Output] = []
        out = self._stdout_decoder.decode(b"", final=True)
        if out:
            if self._stdout_chunks is not None:
                self._stdout_chunks.append(out)
            events.append((out, None, None))
        err = self._stderr_decoder.decode(b"", final=True)
        if err:
            if self._stderr_chunks is not None:
                self._stderr_chunks.append(err)
            events.append((None, err, None))
        return events

    async def _iterate_events(self) -> AsyncGenerator[Output, None]:
        try:
            while True:
                batch = await wait_native(self._events.anext_batch())
                if batch is None:
                    break
                for event in batch:
                    kind = event[0]
                    if kind == "stdout":
                        out = self._stdout_decoder.decode(event[1])
                        if out:
                            if self._stdout_chunks is not None:
                                self._stdout_chunks.append(out)
                            yield out, None, None
                    elif kind == "stderr":
                        out = self._stderr_decoder.decode(event[1])
                        if out:
                            if self._stderr_chunks is not None:
                                self._stderr_chunks.append(out)
                            yield None, out, None
                    elif kind == "pty":
                        yield None, None, event[1]
                    elif kind == "end":
                        flushed = self._flush_decoders()
                        self._result = CommandResult(
                            stdout=self._join_output(self._stdout_chunks),
                            stderr=self._join_output(self._stderr_chunks),
                            exit_code=event[1],
                            error=event[2],
                        )
                        for f in flushed:
                            yield f
        except Exception:
            for flushed in self._flush_decoders():
                yield flushed
            raise
        if self._result is None:
            for flushed in self._flush_decoders():
                yield flushed

    async def _handle_events(self) -> None:
        try:
            async for stdout, stderr, pty in self._iterate_events():
                if stdout is not None and self._on_stdout:
                    cb = self._on_stdout(stdout)
                    if inspect.isawaitable(cb):
                        await cb
                elif stderr is not None and self._on_stderr:
                    cb = self._on_stderr(stderr)
                    if inspect.isawaitable(cb):
                        await cb
                elif pty is not None and self._on_pty:
                    cb = self._on_pty(pty)
                    if inspect.isawaitable(cb):
                        await cb
        except StopAsyncIteration:
            pass
        except Exception as e:
            self._iteration_exception = e

    async def disconnect(self) -> None:
        """
        Disconnect from the command. The command keeps running; reconnect with
        ``sandbox.commands.connect``.
        """
        import asyncio

        self._wait.cancel()
        await asyncio.wait([self._wait])
        self._events.close()

    async def wait(self) -> CommandResult[OutputT]:
        """
        Wait for the command to finish and return the result. A non-zero exit code raises
        :class:`CommandExitException`.

        :return: :class:`CommandResult` of the command
        """
        await self._wait
        if self._iteration_exception:
            raise self._iteration_exception
        if self._result is None:
            raise Exception("Command ended without an end event")
        if self._result.exit_code != 0:
            raise CommandExitException(
                stdout=self._join_output(self._stdout_chunks),
                stderr=self._join_output(self._stderr_chunks),
                exit_code=self._result.exit_code,
                error=self._result.error,
            )
        return self._result

    async def kill(self) -> bool:
        """
        Kill the command (``SIGKILL``).

        :return: ``True`` if the command was killed, ``False`` if it was not found
        """
        return await self._handle_kill()

    async def send_stdin(self, data: Union[str, bytes], request_timeout: Optional[float] = None) -> None:
        """
        Send data to the command's stdin (started with ``stdin=True``).

        :param data: Data to send
        :param request_timeout: Timeout for the request in **seconds**
        """
        if self._handle_send_stdin is None:
            raise SandboxException("Sending stdin is not supported for this command handle.")
        await self._handle_send_stdin(data, request_timeout)

    async def close_stdin(self, request_timeout: Optional[float] = None) -> None:
        """
        Close the command's stdin (EOF).

        :param request_timeout: Timeout for the request in **seconds**
        """
        if self._handle_close_stdin is None:
            raise SandboxException("Closing stdin is not supported for this command handle.")
        await self._handle_close_stdin(request_timeout)
