"""Results of commands and the PTY size type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, List, Optional, TypeVar

from e2b.exceptions import SandboxException

Stdout = str
"""Command stdout output."""
Stderr = str
"""Command stderr output."""
PtyOutput = bytes
"""PTY output."""

OutputT = TypeVar("OutputT", bound=Optional[str])
"""Type of the accumulated output: ``None`` with ``retain_output=False``, ``str`` otherwise."""


def join_output(chunks: Optional[List[str]]) -> Optional[str]:
    """Joins accumulated output chunks, or ``None`` when output is not retained."""
    return None if chunks is None else "".join(chunks)


@dataclass
class PtySize:
    """Size of a pseudo-terminal (rows first)."""

    rows: int
    """Number of rows."""
    cols: int
    """Number of columns."""


@dataclass
class CommandResult(Generic[OutputT]):
    """Result of a finished command."""

    stderr: OutputT
    """Command stderr output (``None`` when started with ``retain_output=False``)."""
    stdout: OutputT
    """Command stdout output (``None`` when started with ``retain_output=False``)."""
    exit_code: int
    """Exit code; 0 on success."""
    error: Optional[str]
    """Error message from command execution, if it failed."""


@dataclass
class CommandExitException(SandboxException, CommandResult[OutputT]):
    """Raised when a waited-for command exits with a non-zero exit code."""

    def __str__(self) -> str:
        if self.stderr is None:
            return f"Command exited with code {self.exit_code}"
        return f"Command exited with code {self.exit_code} and error:\n{self.stderr}"
