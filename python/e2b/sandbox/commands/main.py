"""Types describing processes in the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional


@dataclass
class ProcessInfo:
    """Information about a command, PTY session or process running in the sandbox."""

    pid: int
    """Process ID."""
    tag: Optional[str]
    """Custom tag identifying special commands such as the start command of a template."""
    cmd: str
    """Command that was executed."""
    args: List[str]
    """Arguments of the command."""
    envs: Dict[str, str]
    """Environment variables the command was started with."""
    cwd: Optional[str]
    """Working directory of the command."""
