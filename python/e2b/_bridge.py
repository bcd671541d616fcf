"""Glue between the Python surface and the native core: loads ``e2b._native`` on first use
(so ``import e2b`` stays cheap), tells it how to start the local runtime, and logs — once
per process — that sandboxes run on this machine, and why."""

from __future__ import annotations

import sys
from typing import Any, Optional

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

    The call's outcome is always collected on the loop's own thread: native worker threads
    never touch Python (see ``src/shared/rt.rs``). The loop learns that the call finished by
    watching the call's descriptor (``add_reader``); a loop without ``add_reader`` (Windows'
    proactor loop) awaits a datagram on its wake-up socket instead (:class:`_Waker`), and only
    if no such socket can be had does an executor thread wait. Cancelling the awaiting task
    aborts the native call (its request is dropped).
    """
    import asyncio

    loop = asyncio.get_running_loop()
    fd = pending.fileno()
    if fd >= 0:
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
            loop.add_reader(fd, ready)  # portability: NotImplementedError → the waker below
        except NotImplementedError:
            pass
        else:
            try:
                return await future
            except BaseException:
                pending.cancel()
                raise
            finally:
                loop.remove_reader(fd)
    waker = _waker(loop)
    if waker is None:
        return await _wait_in_thread(loop, pending)
    return await waker.wait(loop, pending)


class _Waker:
    """The wake-up socket of one event loop that has no ``add_reader``: a UDP socket on
    127.0.0.1, connected to the native sender (``_native.wake_source()``) so that it takes
    datagrams from nowhere else. Each call asks for a datagram when it finishes
    (``PendingCall.notify_port``); one reader task, alive while calls wait, receives them with
    ``loop.sock_recv`` (implemented by every asyncio loop, the proactor included) and resolves
    every finished call. A datagram carries nothing: a stray or a lost one (only when the
    buffer is full, so others are pending) changes no result."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.waiting: dict = {}
        self.reader: Any = None

    async def wait(self, loop: Any, pending: Any) -> Any:
        future = loop.create_future()
        key = id(pending)
        self.waiting[key] = (pending, future)
        try:
            if pending.notify_port(self.port):
                if self.reader is None:
                    self.reader = loop.create_task(self._read(loop))
            else:
                self._collect()
            return await future
        except BaseException:
            pending.cancel()
            raise
        finally:
            del self.waiting[key]
            if not self.waiting and self.reader is not None:
                # Nothing left to wake: no task stays parked on the socket (nor keeps the
                # loop alive through this object).
                self.reader.cancel()
                self.reader = None

    async def _read(self, loop: Any) -> None:
        import asyncio

        while True:
            try:
                await loop.sock_recv(self.sock, 64)
            except OSError:
                # Nothing a datagram socket on loopback should report; poll instead of spin.
                await asyncio.sleep(0.05)
            self._collect()

    def _collect(self) -> None:
        for pending, future in list(self.waiting.values()):
            if future.done() or not pending.done():
                continue
            try:
                future.set_result(pending.result())
            except BaseException as error:  # the mapped exception of the call
                future.set_exception(error)


_wakers: Any = None


def _waker(loop: Any) -> Optional[_Waker]:
    """``loop``'s :class:`_Waker`, made on first use; ``None`` if no socket can be had."""
    global _wakers
    import weakref

    if _wakers is None:
        _wakers = weakref.WeakKeyDictionary()
    if loop in _wakers:
        return _wakers[loop]
    waker = None
    source = native().wake_source()
    if source is not None:
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.connect(source)
            sock.setblocking(False)
        except OSError:
            sock.close()
        else:
            waker = _Waker(sock)
            weakref.finalize(loop, sock.close)
    _wakers[loop] = waker
    return waker


async def _wait_in_thread(loop: Any, pending: Any) -> Any:
    try:
        return await loop.run_in_executor(None, pending.wait)
    except BaseException:
        pending.cancel()
        raise
