"""The handle of an async directory watch (``AsyncSandbox.files.watch_dir``)."""

from __future__ import annotations

import inspect
from typing import Any, Optional

from e2b._bridge import wait_native
from e2b.sandbox.filesystem.watch_handle import FilesystemEvent, map_event
from e2b.sandbox_async.utils import OutputHandler


class AsyncWatchHandle:
    """
    Handle of a directory watch whose events are delivered to ``on_event`` by a background
    task; ``on_exit`` is called exactly once, with the error that ended the watch or
    ``None``. Stop it with :meth:`stop`.
    """

    def __init__(
        self,
        events: Any,
        on_event: OutputHandler[FilesystemEvent],
        on_exit: Optional[OutputHandler[Optional[Exception]]] = None,
    ):
        self._events = events
        self._on_event = on_event
        self._on_exit = on_exit
        import asyncio  # not at import time: `import e2b` stays light

        self._wait = asyncio.create_task(self._handle_events())

    async def stop(self) -> None:
        """Stop watching the directory."""
        import asyncio

        self._wait.cancel()
        await asyncio.wait([self._wait])
        self._events.close()

    async def _call_on_exit(self, error: Optional[Exception]) -> None:
        if self._on_exit is None:
            return
        try:
            cb = self._on_exit(error)
            if inspect.isawaitable(cb):
                await cb
        except Exception:
            # `on_exit` is the last callback; an error in it has nowhere to go.
            pass

    async def _handle_events(self) -> None:
        import asyncio

        error: Optional[Exception] = None
        try:
            while True:
                batch = await wait_native(self._events.anext_batch())
                if batch is None:
                    break
                for raw in batch:
                    cb = self._on_event(map_event(raw))
                    if inspect.isawaitable(cb):
                        await cb
        except asyncio.CancelledError:
            await self._call_on_exit(None)
            raise
        except Exception as e:
            error = e
        await self._call_on_exit(error)
