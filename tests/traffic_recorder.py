"""A loopback listener that records what clients send it — where an SDK's traffic went.

`TrafficRecorder()` answers every request (and every proxy `CONNECT`) with 403 and closes:
pointed at by `E2B_API_URL`/`E2B_SANDBOX_URL` or by `HTTPS_PROXY`/`HTTP_PROXY`, it shows which
hosts and paths a client tried, and that nothing got through (the E2B cloud is not reachable
from the tests). `TrafficRecorder(upstream=url)` relays every connection byte for byte to
`upstream` (the test session's real daemon) and records the client's side: the SDK then
works in cloud mode, with every request it made on record. Neither fakes a runtime.

Requests are read back from the recorded bytes with h11, an HTTP/1.1 parser; plain-text
loopback traffic is HTTP/1.1 (HTTP/2 needs TLS ALPN or prior knowledge, neither used here).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import h11

REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: Dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class TrafficRecorder:
    def __init__(self, upstream: Optional[str] = None) -> None:
        self._upstream: Optional[Tuple[str, int]] = None
        if upstream is not None:
            parts = urlsplit(upstream)
            self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._lock = threading.Lock()
        self._streams: List[bytearray] = []
        self._generation = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="traffic-recorder", daemon=True)
        self._thread.start()

    @property
    def authority(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}"

    def connections(self) -> int:
        with self._lock:
            return len(self._streams)

    def reset(self) -> None:
        """Forgets what was recorded. A connection opened before and used again (a client's
        pool keeps them) records its later requests as a new stream."""
        with self._lock:
            self._streams = []
            self._generation += 1

    def requests(self) -> List[Request]:
        """Every request head received so far, in arrival order per connection."""
        with self._lock:
            streams = [bytes(s) for s in self._streams]
        out: List[Request] = []
        for data in streams:
            out.extend(parse_requests(data))
        return out

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> "TrafficRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connection handling -------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            stream = _Stream()
            with self._lock:
                stream.generation = self._generation
                self._streams.append(stream.data)
            handler = self._refuse if self._upstream is None else self._relay
            threading.Thread(target=handler, args=(client, stream), daemon=True).start()

    def _record(self, stream: "_Stream", chunk: bytes) -> None:
        with self._lock:
            if stream.generation != self._generation:
                stream.generation = self._generation
                stream.data = bytearray()
                self._streams.append(stream.data)
            stream.data.extend(chunk)

    def _refuse(self, client: socket.socket, stream: "_Stream") -> None:
        """Reads one request head (or up to `MAX_HEAD` bytes), answers 403, closes."""
        client.settimeout(10)
        received = b""
        try:
            while b"\r\n\r\n" not in received and len(received) < MAX_HEAD:
                chunk = client.recv(65536)
                if not chunk:
                    break
                received += chunk
                self._record(stream, chunk)
            client.sendall(REFUSAL)
        except OSError:
            pass
        finally:
            client.close()

    def _relay(self, client: socket.socket, stream: "_Stream") -> None:
        assert self._upstream is not None
        try:
            upstream = socket.create_connection(self._upstream, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=_pipe, args=(upstream, client, None), daemon=True)
        back.start()
        _pipe(client, upstream, lambda chunk: self._record(stream, chunk))
        back.join(timeout=300)
        client.close()
        upstream.close()


class _Stream:
    """What one connection's client sent since the last `reset()`."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.generation = 0


def _pipe(source: socket.socket, sink: socket.socket, record) -> None:
    """Copies `source` to `sink` until EOF, then half-closes `sink`."""
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            if record is not None:
                record(chunk)
            sink.sendall(chunk)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def parse_requests(data: bytes) -> List[Request]:
    """The request heads in one connection's client-to-server bytes. A `CONNECT` ends the
    HTTP part (a tunnel would follow); a cut-off request ends the list."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    out: List[Request] = []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            break
        if isinstance(event, h11.Request):
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
            out.append(Request(event.method.decode(), event.target.decode("latin-1"), headers))
            if event.method == b"CONNECT":
                break
        elif isinstance(event, h11.EndOfMessage):
            # Answer (on paper) so that h11 reads the next request of a kept-alive connection.
            conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                break
            conn.start_next_cycle()
        elif event is h11.NEED_DATA or event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
            break
    return out
