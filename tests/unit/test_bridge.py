"""The asyncio bridge (`e2b._bridge.wait_native`) on every kind of event loop.

Async calls finish on native worker threads, which never touch Python; the loop collects the
outcome on its own thread. A selector loop watches the call's descriptor (`add_reader`);
Windows' proactor loop has no `add_reader`, so it awaits a datagram on its wake-up socket
(`loop.sock_recv`), and only without one does an executor thread wait. `NoReaderLoop` is a
selector loop whose `add_reader` raises `NotImplementedError` exactly as the proactor's does
(its `sock_recv` still works, as the proactor's does), so the Windows path runs here.

The calls are real control-plane calls (`AsyncSandbox.kill`) of the SDK in cloud mode against
a loopback HTTP server: 204 (killed), 404 (not found → `False`), 500 (→ `SandboxException`),
or an answer held back for seconds (to cancel, or to exit with calls in flight)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from e2b import AsyncSandbox, SandboxException, _bridge

SLOW_SECONDS = 20


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_DELETE(self):  # noqa: N802 (http.server's naming)
        sandbox_id = self.path.rsplit("/", 1)[-1]
        if sandbox_id.startswith("slow"):
            time.sleep(SLOW_SECONDS)
        status, body = {"missing": (404, b'{"code":404,"message":"not found"}'),
                        "boom": (500, b'{"code":500,"message":"boom"}')}.get(sandbox_id, (204, b""))
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # a cancelled call's connection is gone

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop without `add_reader`, like Windows' `ProactorEventLoop`."""

    add_reader_calls = 0

    def add_reader(self, fd, callback, *args):
        type(self).add_reader_calls += 1
        raise NotImplementedError


def run(loop: asyncio.AbstractEventLoop, coro):
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def kill(api_url: str, sandbox_id: str):
    return AsyncSandbox.kill(sandbox_id, api_key="e2b_test", api_url=api_url, request_timeout=60)


@pytest.mark.parametrize("loop_class", [asyncio.SelectorEventLoop, NoReaderLoop])
def test_concurrent_calls_complete_with_their_results(api_url, loop_class):
    loop = loop_class()

    async def main():
        ids = [f"sbx{i}" for i in range(100)] + ["missing"]
        results = await asyncio.gather(*(kill(api_url, i) for i in ids))
        with pytest.raises(SandboxException, match="boom"):
            await kill(api_url, "boom")
        return results

    before = NoReaderLoop.add_reader_calls
    results = run(loop, main())
    assert results == [True] * 100 + [False]
    waker = (_bridge._wakers or {}).get(loop)
    # Windows has no descriptor to watch: every loop uses the wake-up socket there.
    if loop_class is NoReaderLoop or os.name == "nt":
        # Where there is a descriptor, every call tried it first.
        assert NoReaderLoop.add_reader_calls - before == (0 if os.name == "nt" else 102)
        assert isinstance(waker, _bridge._Waker)
        assert waker.waiting == {} and waker.reader is None
    else:
        assert waker is None


def test_cancelling_a_call_on_a_loop_without_add_reader(api_url):
    loop = NoReaderLoop()

    async def main():
        start = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(kill(api_url, "slow-cancelled"), 0.3)
        assert time.monotonic() - start < 5
        waker = _bridge._wakers[asyncio.get_running_loop()]
        assert waker.waiting == {} and waker.reader is None
        # The loop's socket keeps working for the next calls.
        assert await asyncio.gather(kill(api_url, "after-1"), kill(api_url, "after-2")) == [True, True]

    run(loop, main())


def test_the_thread_fallback_returns_when_the_call_is_cancelled(api_url, monkeypatch):
    # Without a wake-up socket an executor thread waits in `PendingCall.wait`; a cancelled
    # call must release it at once, or the loop's shutdown (and the interpreter's exit, which
    # joins executor threads) would wait for the server's answer.
    monkeypatch.setattr(_bridge, "_waker", lambda loop: None)
    loop = NoReaderLoop()

    async def main():
        assert await kill(api_url, "via-thread") is True
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(kill(api_url, "slow-thread"), 0.3)
        start = time.monotonic()
        await asyncio.get_running_loop().shutdown_default_executor()
        return time.monotonic() - start

    assert run(loop, main()) < 5


EXIT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from e2b import AsyncSandbox

    class NoReaderLoop(asyncio.SelectorEventLoop):
        def add_reader(self, fd, callback, *args):
            raise NotImplementedError

    loop = NoReaderLoop() if sys.argv[2] == "no-reader" else asyncio.SelectorEventLoop()

    async def main():
        for i in range(20):
            loop.create_task(AsyncSandbox.kill(f"slow-{i}", api_key="e2b_test", api_url=sys.argv[1]))
        await asyncio.sleep(0.5)

    loop.run_until_complete(main())
    print("leaving with calls in flight", flush=True)
    """
)


@pytest.mark.parametrize("kind", ["selector", "no-reader"])
def test_the_process_exits_cleanly_with_calls_in_flight(api_url, kind):
    # Worker threads still waiting for answers when the interpreter finalizes must not touch
    # Python (CPython would kill them mid-call and abort the process).
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, api_url, kind],
                          capture_output=True, text=True, timeout=SLOW_SECONDS - 5)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "leaving with calls in flight"
    assert "Fatal Python error" not in proc.stderr
    assert time.monotonic() - start < SLOW_SECONDS - 5
