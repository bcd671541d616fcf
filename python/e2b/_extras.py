"""Names of upstream's EXTRA features — templates, volumes, secrets, git, MCP — that this
build does not support yet. They are importable (so ``from e2b import *`` and type
annotations keep working); the data types are real, and using a feature class raises
``NotImplementedError`` naming what is missing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Literal, Optional, TypedDict, Union

_UNSUPPORTED = (
    "{} is not supported in this build of the e2b SDK "
    "(templates, volumes, secrets, git and MCP are not implemented yet)"
)


def unsupported(name: str) -> NotImplementedError:
    """The error raised when an unsupported feature is used."""
    return NotImplementedError(_UNSUPPORTED.format(name))


class _UnsupportedMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise unsupported(f"{cls.__name__}.{name}")


class _Unsupported(metaclass=_UnsupportedMeta):
    def __init__(self, *args: Any, **kwargs: Any):
        raise unsupported(type(self).__name__)

    def __getattr__(self, name: str) -> Any:
        raise unsupported(f"{type(self).__name__}.{name}")


# --- templates ------------------------------------------------------------------------------


class DockerfileSyntaxError(ValueError):
    """Raised when a Dockerfile given to a template builder cannot be parsed."""

    def __init__(self, message: str, line: Optional[int] = None):
        super().__init__(message)
        self.line = line


class TemplateBase(_Unsupported):
    """Template builder base. Not supported in this build."""


class Template(TemplateBase):
    """Template builder (sync). Not supported in this build."""


class AsyncTemplate(TemplateBase):
    """Template builder (async). Not supported in this build."""


TemplateClass = Union[TemplateBase, Any]
"""A template builder or a finished template."""


class _CopyItemBase(TypedDict):
    src: Union[str, List[str]]
    dest: str


class CopyItem(_CopyItemBase, total=False):
    """One copy step of a template."""

    forceUpload: bool
    user: str
    mode: int
    gzip: bool


@dataclass
class BuildInfo:
    """Result of a template build."""

    template_id: str
    build_id: str
    name: str
    alias: Optional[str]
    tags: List[str] = field(default_factory=list)


class TemplateBuildStatus(str, enum.Enum):
    """Status of a template build."""

    BUILDING = "building"
    WAITING = "waiting"
    READY = "ready"
    ERROR = "error"


@dataclass
class LogEntry:
    """A template build log line."""

    timestamp: datetime
    level: str
    message: str

    def __str__(self) -> str:
        return f"[{self.timestamp.isoformat()}] {self.level.upper()}: {self.message}"


class LogEntryStart(LogEntry):
    """First log entry of a build."""


class LogEntryEnd(LogEntry):
    """Last log entry of a build."""


LogEntryLevel = Literal["debug", "info", "warn", "error"]
"""Level of a build log entry."""


@dataclass
class BuildStatusReason:
    """Why a build is in its status."""

    message: str
    step: Optional[str] = None
    log_entries: List[LogEntry] = field(default_factory=list)


@dataclass
class TemplateBuildStatusResponse:
    """Status of a template build."""

    build_id: str
    template_id: str
    status: TemplateBuildStatus
    log_entries: List[LogEntry]
    logs: List[str]
    reason: Optional[BuildStatusReason] = None


@dataclass
class TemplateTag:
    """A tag of a template."""

    tag: str
    build_id: str
    created_at: datetime


@dataclass
class TemplateTagInfo:
    """Tags assigned to a build."""

    build_id: str
    tags: List[str]


class ReadyCmd:
    """Command that tells when a template's start command is ready."""

    def __init__(self, cmd: str):
        self.__cmd = cmd

    def get_cmd(self) -> str:
        """The shell command."""
        return self.__cmd


def wait_for_port(port: int) -> ReadyCmd:
    """Ready when ``port`` is listening."""
    return ReadyCmd(f"ss -tuln | grep :{port}")


def wait_for_url(url: str, status_code: int = 200) -> ReadyCmd:
    """Ready when ``url`` answers ``status_code``."""
    return ReadyCmd(f'curl -s -o /dev/null -w "%{{http_code}}" {url} | grep -q "{status_code}"')


def wait_for_process(process_name: str) -> ReadyCmd:
    """Ready when a process named ``process_name`` runs."""
    return ReadyCmd(f"pgrep {process_name} > /dev/null")


def wait_for_file(filename: str) -> ReadyCmd:
    """Ready when ``filename`` exists."""
    return ReadyCmd(f"[ -f {filename} ]")


def wait_for_timeout(timeout: int) -> ReadyCmd:
    """Ready after ``timeout`` milliseconds."""
    seconds = max(1, timeout // 1000)
    return ReadyCmd(f"sleep {seconds}")


def default_build_logger(min_level: Optional[LogEntryLevel] = None) -> Callable[[LogEntry], None]:
    """A build-log callback that prints entries at ``min_level`` or above."""
    order = ["debug", "info", "warn", "error"]
    threshold = order.index(min_level) if min_level in order else 1

    def log(entry: LogEntry) -> None:
        if entry.level in order and order.index(entry.level) >= threshold:
            print(entry)

    return log


# --- MCP --------------------------------------------------------------------------------------


class _GitHubMcpServerConfigBase(TypedDict):
    run_cmd: str


class GitHubMcpServerConfig(_GitHubMcpServerConfigBase, total=False):
    """Configuration of a GitHub-hosted MCP server."""

    install_cmd: str
    envs: Dict[str, str]


GitHubMcpServer = Dict[str, Union[GitHubMcpServerConfig, Any]]
"""GitHub MCP servers keyed ``"github/owner/repo"``."""

McpServer = Dict[str, Any]
"""MCP servers to enable in the sandbox."""


# --- git --------------------------------------------------------------------------------------


class Git(_Unsupported):
    """Git helpers (``sandbox.git``). Not supported in this build; run git with commands."""


GitResetMode = Literal["soft", "mixed", "hard", "merge", "keep"]
"""Mode of ``git reset``."""


@dataclass
class GitFileStatus:
    """Status of one file in a git repository."""

    name: str
    status: str
    index_status: str
    working_tree_status: str
    staged: bool
    renamed_from: Optional[str] = None


@dataclass
class GitBranches:
    """Branches of a git repository."""

    branches: List[str]
    current_branch: Optional[str]


@dataclass
class GitStatus:
    """Status of a git repository."""

    current_branch: Optional[str]
    upstream: Optional[str]
    ahead: int
    behind: int
    detached: bool
    file_status: List[GitFileStatus]

    @property
    def is_clean(self) -> bool:
        """No changes at all."""
        return not self.file_status

    @property
    def has_changes(self) -> bool:
        """Any change."""
        return bool(self.file_status)

    @property
    def has_staged(self) -> bool:
        """Any staged change."""
        return any(f.staged for f in self.file_status)

    @property
    def has_untracked(self) -> bool:
        """Any untracked file."""
        return any(f.status == "untracked" for f in self.file_status)

    @property
    def has_conflicts(self) -> bool:
        """Any conflict."""
        return any(f.status == "conflict" for f in self.file_status)

    @property
    def total_count(self) -> int:
        """Number of changed files."""
        return len(self.file_status)

    @property
    def staged_count(self) -> int:
        """Number of staged files."""
        return sum(1 for f in self.file_status if f.staged)

    @property
    def unstaged_count(self) -> int:
        """Number of unstaged changed files."""
        return sum(1 for f in self.file_status if not f.staged and f.status != "untracked")

    @property
    def untracked_count(self) -> int:
        """Number of untracked files."""
        return sum(1 for f in self.file_status if f.status == "untracked")

    @property
    def conflict_count(self) -> int:
        """Number of conflicting files."""
        return sum(1 for f in self.file_status if f.status == "conflict")


# --- volumes ----------------------------------------------------------------------------------


class VolumeApiParams(TypedDict, total=False):
    """Connection options of volume calls."""

    domain: Optional[str]
    debug: Optional[bool]
    request_timeout: Optional[float]
    headers: Optional[Dict[str, str]]
    token: Optional[str]
    api_url: Optional[str]
    proxy: Optional[Any]
    logger: Optional[Any]
    http_version: Optional[str]


class VolumeConnectionConfig(_Unsupported):
    """Connection configuration of the volume content API. Not supported in this build."""


class Volume(_Unsupported):
    """A persistent volume (sync). Not supported in this build."""


class AsyncVolume(_Unsupported):
    """A persistent volume (async). Not supported in this build."""


@dataclass
class VolumeInfo:
    """Information about a volume."""

    volume_id: str
    name: str


@dataclass
class VolumeAndToken:
    """A volume and its access token."""

    volume_id: str
    name: str
    token: str
    domain: Optional[str] = None


class VolumeFileType(str, enum.Enum):
    """Type of a volume entry."""

    DIRECTORY = "directory"
    FILE = "file"
    SYMLINK = "symlink"
    UNKNOWN = "unknown"


@dataclass
class VolumeEntryStat:
    """Metadata of a volume entry."""

    name: str
    type: VolumeFileType
    path: str
    size: int
    mode: int
    uid: int
    gid: int
    atime: datetime
    mtime: datetime
    ctime: datetime
    target: Optional[str] = None


# --- secrets ----------------------------------------------------------------------------------


class Secret(_Unsupported):
    """Team secrets (sync). Not supported in this build."""


class AsyncSecret(_Unsupported):
    """Team secrets (async). Not supported in this build."""


@dataclass
class SecretInfo:
    """Information about a secret."""

    secret_id: str
    name: str
    version: int
    metadata: Dict[str, str]
    created_at: datetime
    updated_at: datetime


class SecretPaginator(_Unsupported):
    """Paginator over secrets (sync). Not supported in this build."""


class AsyncSecretPaginator(_Unsupported):
    """Paginator over secrets (async). Not supported in this build."""


# --- snapshots --------------------------------------------------------------------------------


class SnapshotPaginator(_Unsupported):
    """Paginator over snapshots (sync). Not supported in this build."""


class AsyncSnapshotPaginator(_Unsupported):
    """Paginator over snapshots (async). Not supported in this build."""


# --- REST client --------------------------------------------------------------------------------


class ApiClient(_Unsupported):
    """The generated REST client of upstream. Not part of this build: the Rust core talks to
    the API."""
