"""The handle of a sync directory watch (``Sandbox.files.watch_dir``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

from e2b.exceptions import SandboxException
from e2b.sandbox.filesystem.watch_handle import FilesystemEvent, map_event

if TYPE_CHECKING:  # pragma: no cover
    from e2b.sandbox_sync.main import Sandbox


class WatchHandle:
    """
    Handle for watching filesystem events. Events are buffered in the sandbox; fetch the
    ones since the last call with :meth:`get_new_events` and stop with :meth:`stop`.
    """

    def __init__(self, sandbox: Sandbox, watcher_id: str, user: Optional[str] = None):
        self._sandbox = sandbox
        self._watcher_id = watcher_id
        self._user = user
        self._closed = False

    def _timeout(self, request_timeout: Optional[float]) -> Optional[float]:
        return self._sandbox.connection_config.get_request_timeout(request_timeout)

    @property
    def _envd(self) -> Any:
        return self._sandbox._envd

    def stop(self, request_timeout: Optional[float] = None) -> None:
        """
        Stop watching the directory. Events can no longer be fetched afterwards.

        :param request_timeout: Timeout for the request in **seconds**
        """
        self._envd.fs_remove_watcher(False, self._watcher_id, self._user, self._timeout(request_timeout))
        self._closed = True

    def get_new_events(self, request_timeout: Optional[float] = None) -> List[FilesystemEvent]:
        """
        The events in the watched directory since the last call (or since the watch started).

        :param request_timeout: Timeout for the request in **seconds**
        :return: List of filesystem events
        """
        if self._closed:
            raise SandboxException("The watcher is already stopped")
        raw = self._envd.fs_watcher_events(False, self._watcher_id, self._user, self._timeout(request_timeout))
        return [map_event(e) for e in raw]
