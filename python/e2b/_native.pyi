"""Type stubs of ``e2b._native``, the Rust core (internal API: use ``e2b`` instead).

Calls taking ``asynchronous`` return the value when it is ``False`` (blocking with the GIL
released) and a :class:`PendingCall` when it is ``True`` (await it with
``e2b._bridge.wait_native``). Errors are raised as the classes of ``e2b.exceptions``.
"""

from typing import Any, Dict, List, Literal, Optional, Tuple, Union, final

__all__ = [
    "Connection",
    "DownloadStream",
    "Envd",
    "InputStream",
    "ProcessStream",
    "UploadStream",
    "WatchStream",
    "ExecutionStream",
    "SandboxClient",
    "set_local_launcher",
    "agent_main",
    "cli_main",
    "PendingCall",
    "wake_source",
    "SDK_VERSION",
    "LOCAL_RUNTIME",
    "LOCAL_RUNTIME_UNAVAILABLE",
]

SDK_VERSION: str
LOCAL_RUNTIME: bool
"""Whether this build has the local runtime (x86-64 Linux with the default build); without
it, every configuration is a cloud one and ``cli_main``/``agent_main`` raise ``RuntimeError``."""
LOCAL_RUNTIME_UNAVAILABLE: str
"""The sentence a build without the local runtime adds to the missing-key error."""

_Created = Tuple[str, Optional[str], str, Optional[str], Optional[str], "Connection"]
"""``(sandbox_id, domain, envd_version, envd_access_token, traffic_access_token,
connection)`` of a created or connected sandbox; ``connection`` is the calling one, bound in
local mode to the daemon that served the call."""

_Event = Tuple[Any, ...]
"""``("stdout"|"stderr", text, timestamp)``, ``("result", kwargs)``,
``("error", name, value, traceback)`` or ``("count", execution_count)``."""

_ExecutionSummary = Tuple[List[Dict[str, Any]], List[str], List[str], Optional[Tuple[str, str, str]], Optional[int]]
"""``(results, stdout, stderr, error, execution_count)``."""

@final
class PendingCall:
    """An async call in flight."""

    def fileno(self) -> int: ...
    def notify_port(self, port: int) -> bool: ...
    def done(self) -> bool: ...
    def result(self) -> Any: ...
    def wait(self) -> Any: ...
    def cancel(self) -> None: ...

@final
class Connection:
    """Resolved connection settings and the control-plane calls made with them."""

    def __new__(
        cls,
        *,
        domain: Optional[str] = None,
        debug: Optional[bool] = None,
        api_key: Optional[str] = None,
        api_url: Optional[str] = None,
        sandbox_url: Optional[str] = None,
        request_timeout: Optional[float] = None,
        retries: Optional[int] = None,
        http_version: Optional[str] = None,
        proxy: Optional[str] = None,
        headers: Optional[List[Tuple[str, str]]] = None,
    ) -> "Connection": ...
    @property
    def domain(self) -> str: ...
    @property
    def debug(self) -> bool: ...
    @property
    def api_key(self) -> Optional[str]: ...
    @property
    def api_url(self) -> str: ...
    @property
    def sandbox_url(self) -> Optional[str]: ...
    @property
    def request_timeout(self) -> Optional[float]: ...
    @property
    def retries(self) -> int: ...
    @property
    def http_version(self) -> str: ...
    @property
    def local(self) -> bool: ...
    @property
    def local_notice(self) -> Optional[str]: ...
    def sandbox_address(
        self, kind: Literal["url", "direct_url", "host"], sandbox_id: str, sandbox_domain: Optional[str], port: int
    ) -> str: ...
    def create_sandbox(
        self,
        asynchronous: bool,
        template: str,
        timeout: Optional[int],
        allow_internet_access: Optional[bool],
        metadata: Optional[Dict[str, str]],
        env_vars: Optional[Dict[str, str]],
        extra: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> Union[_Created, PendingCall]: ...
    def connect_sandbox(
        self, asynchronous: bool, sandbox_id: str, timeout: Optional[int] = None, memory: Optional[bool] = None
    ) -> Union[_Created, PendingCall]: ...
    def kill_sandbox(self, asynchronous: bool, sandbox_id: str) -> Union[bool, PendingCall]: ...
    def set_timeout(self, asynchronous: bool, sandbox_id: str, timeout: int) -> Union[None, PendingCall]: ...
    def get_info(self, asynchronous: bool, sandbox_id: str) -> Union[Dict[str, Any], PendingCall]: ...
    def list_sandboxes(
        self,
        asynchronous: bool,
        metadata: Optional[List[Tuple[str, str]]] = None,
        state: Optional[List[str]] = None,
        started_after: Optional[str] = None,
        template: Optional[str] = None,
        order: Optional[str] = None,
        limit: Optional[int] = None,
        next_token: Optional[str] = None,
    ) -> Union[Tuple[List[Dict[str, Any]], Optional[str]], PendingCall]: ...
    def pause_sandbox(
        self,
        asynchronous: bool,
        sandbox_id: str,
        memory: Optional[bool] = None,
        require_healthy_guest: Optional[bool] = None,
    ) -> Union[bool, PendingCall]: ...
    def get_metrics(
        self, asynchronous: bool, sandbox_id: str, start: Optional[int] = None, end: Optional[int] = None
    ) -> Union[List[Dict[str, Any]], PendingCall]: ...

@final
class ExecutionStream:
    """A running ``/execute`` call read batch by batch."""

    def next_batch(self) -> Optional[List[_Event]]: ...
    def anext_batch(self) -> PendingCall: ...
    def close(self) -> None: ...

@final
class SandboxClient:
    """One sandbox's data plane: envd health and the code interpreter."""

    def __new__(
        cls,
        sandbox_id: str,
        envd_url: str,
        envd_headers: List[Tuple[str, str]],
        access_token: Optional[str] = None,
        traffic_access_token: Optional[str] = None,
        http_version: str = "2",
        proxy: Optional[str] = None,
    ) -> "SandboxClient": ...
    def is_running(self, asynchronous: bool, request_timeout: Optional[float] = None) -> Union[bool, PendingCall]: ...
    def run_code(
        self,
        asynchronous: bool,
        jupyter_url: str,
        code: str,
        context_id: Optional[str] = None,
        language: Optional[str] = None,
        env_vars: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
    ) -> Union[_ExecutionSummary, PendingCall]: ...
    def run_code_stream(
        self,
        jupyter_url: str,
        code: str,
        context_id: Optional[str] = None,
        language: Optional[str] = None,
        env_vars: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
    ) -> ExecutionStream: ...
    def create_context(
        self,
        asynchronous: bool,
        jupyter_url: str,
        cwd: Optional[str] = None,
        language: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> Union[Dict[str, Any], PendingCall]: ...
    def list_contexts(
        self, asynchronous: bool, jupyter_url: str, request_timeout: Optional[float] = None
    ) -> Union[List[Dict[str, Any]], PendingCall]: ...
    def remove_context(
        self, asynchronous: bool, jupyter_url: str, context_id: str, request_timeout: Optional[float] = None
    ) -> Union[None, PendingCall]: ...
    def restart_context(
        self, asynchronous: bool, jupyter_url: str, context_id: str, request_timeout: Optional[float] = None
    ) -> Union[None, PendingCall]: ...

_EntryDict = Dict[str, Any]
"""An entry: ``name``, ``type`` (``"file"``/``"dir"``/``"symlink"``/``None``), ``path``, ``size``,
``mode``, ``permissions``, ``owner``, ``group``, ``modified_time`` (``(seconds, nanos)``),
``symlink_target``, ``metadata``, ``is_symlink``."""

_ProcessEvent = Tuple[Any, ...]
"""``("stdout"|"stderr"|"pty", bytes)`` or ``("end", exit_code, error)``."""

_FsEvent = Tuple[str, str, Optional[_EntryDict]]
"""``(name, "create"|"write"|"remove"|"rename"|"chmod", entry)``."""

@final
class ProcessStream:
    """Output of a process, batch by batch; ``close()`` disconnects (the process keeps running)."""

    pid: int
    def next_batch(self) -> Optional[List[_ProcessEvent]]: ...
    def anext_batch(self) -> PendingCall: ...
    def close(self) -> None: ...

@final
class WatchStream:
    """Events of an async directory watch."""

    def next_batch(self) -> Optional[List[_FsEvent]]: ...
    def anext_batch(self) -> PendingCall: ...
    def close(self) -> None: ...

@final
class DownloadStream:
    """A streamed download."""

    def next_chunk(self) -> Optional[bytes]: ...
    def anext_chunk(self) -> PendingCall: ...
    def close(self) -> None: ...

@final
class UploadStream:
    """An upload fed chunk by chunk."""

    def begin_file(self, asynchronous: bool, path: str) -> Any: ...
    def send(self, asynchronous: bool, data: bytes) -> Any: ...
    def finish(self, asynchronous: bool) -> Any: ...

@final
class InputStream:
    """An open ``Process/StreamInput`` call."""

    def push(self, data: bytes) -> None: ...
    def finish(self, asynchronous: bool) -> Any: ...

@final
class Envd:
    """envd of one sandbox: filesystem RPCs, processes and PTYs, ``/files``."""

    def __new__(cls, sandbox: SandboxClient) -> "Envd": ...
    def fs_stat(
        self, asynchronous: bool, path: str, user: Optional[str] = None, timeout: Optional[float] = None
    ) -> Any: ...
    def fs_exists(
        self, asynchronous: bool, path: str, user: Optional[str] = None, timeout: Optional[float] = None
    ) -> Any: ...
    def fs_list(
        self, asynchronous: bool, path: str, depth: int, user: Optional[str] = None, timeout: Optional[float] = None
    ) -> Any: ...
    def fs_make_dir(
        self, asynchronous: bool, path: str, user: Optional[str] = None, timeout: Optional[float] = None
    ) -> Any: ...
    def fs_rename(
        self,
        asynchronous: bool,
        old_path: str,
        new_path: str,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Any: ...
    def fs_remove(
        self, asynchronous: bool, path: str, user: Optional[str] = None, timeout: Optional[float] = None
    ) -> Any: ...
    def fs_create_watcher(
        self,
        asynchronous: bool,
        path: str,
        recursive: bool,
        include_entry: bool,
        allow_network_mounts: bool,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Any: ...
    def fs_watcher_events(
        self, asynchronous: bool, watcher_id: str, user: Optional[str] = None, timeout: Optional[float] = None
    ) -> Any: ...
    def fs_remove_watcher(
        self, asynchronous: bool, watcher_id: str, user: Optional[str] = None, timeout: Optional[float] = None
    ) -> Any: ...
    def fs_watch_dir(
        self,
        asynchronous: bool,
        path: str,
        recursive: bool,
        include_entry: bool,
        allow_network_mounts: bool,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
        start_timeout: Optional[float] = None,
    ) -> Any: ...
    def files_read(
        self,
        asynchronous: bool,
        path: str,
        user: Optional[str] = None,
        gzip: bool = False,
        timeout: Optional[float] = None,
    ) -> Any: ...
    def files_download(
        self,
        asynchronous: bool,
        path: str,
        user: Optional[str] = None,
        gzip: bool = False,
        idle_timeout: Optional[float] = None,
        timeout: Optional[float] = None,
    ) -> Any: ...
    def files_upload(
        self,
        mode: str,
        path: Optional[str] = None,
        user: Optional[str] = None,
        gzip: bool = False,
        metadata: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> UploadStream: ...
    def process_list(self, asynchronous: bool, timeout: Optional[float] = None) -> Any: ...
    def process_kill(self, asynchronous: bool, pid: int, timeout: Optional[float] = None) -> Any: ...
    def process_send_input(
        self, asynchronous: bool, pid: int, kind: str, data: bytes, timeout: Optional[float] = None
    ) -> Any: ...
    def process_close_stdin(self, asynchronous: bool, pid: int, timeout: Optional[float] = None) -> Any: ...
    def process_resize(
        self, asynchronous: bool, pid: int, rows: int, cols: int, timeout: Optional[float] = None
    ) -> Any: ...
    def process_start(
        self,
        asynchronous: bool,
        cmd: str,
        args: List[str],
        envs: Optional[Dict[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[str] = None,
        stdin: Optional[bool] = None,
        pty: Optional[Tuple[int, int]] = None,
        timeout: Optional[float] = None,
        start_timeout: Optional[float] = None,
    ) -> Any: ...
    def process_connect(
        self, asynchronous: bool, pid: int, timeout: Optional[float] = None, start_timeout: Optional[float] = None
    ) -> Any: ...
    def process_stream_input(self, pid: int, kind: str, timeout: Optional[float] = None) -> InputStream: ...

def set_local_launcher(argv: List[str]) -> None: ...
def wake_source() -> Optional[Tuple[str, int]]: ...
def cli_main(argv: List[str], python: str, extension: str) -> int: ...
def agent_main() -> int: ...
