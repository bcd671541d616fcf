"""The handle of a running command or PTY session (sync)."""

from __future__ import annotations

import codecs
from typing import Any, Callable, Generator, Generic, List, Optional, Tuple, Union, cast

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

Output = Union[Tuple[Stdout, None, None], Tuple[None, Stderr, None], Tuple[None, None, PtyOutput]]
"""One piece of output: ``(stdout, None, None)``, ``(None, stderr, None)`` or ``(None, None, pty)``."""


class CommandHandle(Generic[OutputT]):
    """
    Command execution handle: wait for the command, iterate over its output, send it input,
    kill it or disconnect from it.
    """

    @property
    def pid(self) -> int:
        """Command process ID."""
        return self._pid

    def __init__(
        self,
        pid: int,
        handle_kill: Callable[[], bool],
        events: Any,
        handle_send_stdin: Optional[Callable[[Union[str, bytes], Optional[float]], None]] = None,
        handle_close_stdin: Optional[Callable[[Optional[float]], None]] = None,
        check_health: Optional[Callable[[], Optional[bool]]] = None,
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
        self._result: Optional[CommandResult[OutputT]] = None
        self._iteration_exception: Optional[Exception] = None

    def __iter__(self) -> Generator[Output, None, None]:
        """
        Iterate over the command output.

        :return: Generator of ``(stdout, stderr, pty)`` tuples with one item set
        """
        return self._handle_events()

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

    def _handle_events(self) -> Generator[Output, None, None]:
        try:
            while True:
                batch = self._events.next_batch()
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
                        yield from flushed
            if self._result is None:
                yield from self._flush_decoders()
        except Exception:
            yield from self._flush_decoders()
            raise

    def disconnect(self) -> None:
        """
        Disconnect from the command. The command keeps running; reconnect with
        ``sandbox.commands.connect``.
        """
        self._events.close()

    def wait(
        self,
        on_pty: Optional[Callable[[PtyOutput], None]] = None,
        on_stdout: Optional[Callable[[str], None]] = None,
        on_stderr: Optional[Callable[[str], None]] = None,
    ) -> CommandResult[OutputT]:
        """
        Wait for the command to finish and return the result. A non-zero exit code raises
        :class:`CommandExitException`.

        :param on_pty: Callback for PTY output
        :param on_stdout: Callback for stdout output
        :param on_stderr: Callback for stderr output
        :return: :class:`CommandResult` of the command
        """
        try:
            for stdout, stderr, pty in self:
                if stdout is not None and on_stdout:
                    on_stdout(stdout)
                elif stderr is not None and on_stderr:
                    on_stderr(stderr)
                elif pty is not None and on_pty:
                    on_pty(pty)
        except StopIteration:
            pass
        except Exception as e:
            self._iteration_exception = e
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

    def kill(self) -> bool:
        """
        Kill the command (``SIGKILL``).

        :return: Whether the command was killed (``False`` if it was not found)
        """
        return self._handle_kill()

    def send_stdin(self, data: Union[str, bytes], request_timeout: Optional[float] = None) -> None:
        """
        Send data to the command's stdin (the command must have been started with
        ``stdin=True``).

        :param data: Data to send
        :param request_timeout: Timeout for the request in **seconds**
        """
        if self._handle_send_stdin is None:
            raise SandboxException("Sending stdin is not supported for this command handle.")
        self._handle_send_stdin(data, request_timeout)

    def close_stdin(self, request_timeout: Optional[float] = None) -> None:
        """
        Close the command's stdin (EOF).

        :param request_timeout: Timeout for the request in **seconds**
        """
        if self._handle_close_stdin is None:
            raise SandboxException("Closing stdin is not supported for this command handle.")
        self._handle_close_stdin(request_timeout)
