"""Glue between the Python surface and the native core: loads ``e2b._native`` on first use
(so ``import e2b`` stays cheap), tells it how to start the local runtime, and logs — once
per process — that sandboxes run on this machine, and why."""

from __future__ import annotations

import sys
from typing import Any

SDK_VERSION = "2.63.0"
"""The upstream release this SDK implements; sent as ``User-Agent``/``package_version``."""

_native: Any = None
_local_noted = False



class LazyLogger:
    """``logging.getLogger(name)``, looked up on first use: importing the SDK does not import
    :mod:`logging` (a fifth of a bare ``import e2b``'s cost)."""

    __slots__ = ("_name", "_logger")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self._name)
        return getattr(self._logger, attr)


logger = LazyLogger("e2b")


def native() -> Any:
    """The ``e2b._native`` extension module, configured on first use."""
    global _native
    if _native is None:
        from e2b import _native as module

        module.set_local_launcher([sys.executable, "-m", "e2b._local", "serve"])
        _native = module
    return _native


def note_local_use(notice: str) -> None:
    """Logs (once per process) that sandboxes run on this machine: the core's ``notice`` says
    why (no key, or ``E2B_LOCAL``) and which given settings are ignored."""
    global _local_noted
    if _local_noted:
        return
    _local_noted = True
    logger.warning(notice)


def api_default_headers() -> dict:
    """Headers every control-plane request carries (as upstream's ``default_headers``)."""
    import platform

    return {
        "lang": "python",
        "lang_version": platform.python_version(),
        "package_version": SDK_VERSION,
        "publisher": "e2b",
        "sdk_runtime": "python",
        "system": platform.system(),
    }


async def wait_native(pending: Any) -> Any:
    """Awaits a native ``PendingCall`` from the running event loop (any loop).

    The loop watches the call's pipe (``add_reader``) and collects the outcome on its own
    thread; loops without ``add_reader`` (e.g. Windows' proactor) wait in an executor thread
    instead. Cancelling the awaiting task aborts the native call (its request is dropped).
    """
    import asyncio

    loop = asyncio.get_running_loop()
    fd = pending.fileno()
    if fd < 0:
        return await _wait_in_thread(loop, pending)
    future = loop.create_future()

    def ready() -> None:
        loop.remove_reader(fd)
        if future.done():
            return
        try:
            future.set_result(pending.result())
        except BaseException as error:  # the mapped exception of the call
            future.set_exception(error)

    try:
        loop.add_reader(fd, ready)
    except NotImplementedError:
        return await _wait_in_thread(loop, pending)
    try:
        return await future
    except BaseException:
        pending.cancel()
        raise
    finally:
        loop.remove_reader(fd)


async def _wait_in_thread(loop: Any, pending: Any) -> Any:
    try:
        return await loop.run_in_executor(None, pending.wait)
    except BaseException:
        pending.cancel()
        raise
